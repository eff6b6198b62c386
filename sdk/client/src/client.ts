import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { Channel } from "./channel.js";
import { Emitter } from "./emitter.js";
import { Inbox } from "./inbox.js";
import { ClientErrorCode, CloseCode, ErrorCode, HeraldError, isTerminalCloseCode } from "./errors.js";
import { Documents } from "./documents.js";
import { defaultTransport } from "./fallback.js";
import { Outbox, type Frame, type SendText } from "./outbox.js";
import { asRecord, normalizeUrl, randomKey } from "./util.js";
import type { Transport, TransportFactory, WebSocketConstructor } from "./transport.js";
import type { ConnectionState, PublishOptions, PublishResult, UnreadChannel } from "./types.js";

export interface HeraldOptions {
  /** `ws://host:7700/ws` (an `http(s)://` URL or one without a path is mapped to it). */
  url: string;
  /** A fixed token (JWT), when the server requires one. */
  token?: string;
  /** Called before every (re)connect; wins over `token`. */
  getToken?: () => Promise<string>;
  /** Sent as `client` in `connect` (e.g. "my-app/1.0"). */
  clientName?: string;
  /** The WebSocket class (default: `globalThis.WebSocket`, else the `ws` package). */
  WebSocket?: WebSocketConstructor;
  /** A custom transport (wins over `transports`). */
  transport?: TransportFactory;
  /**
   * Transports in order of preference. Default `["websocket", "sse", "poll"]`:
   * when one is blocked (fails before any frame while the server answers
   * HTTP) the client moves to the next (SSE + HTTP publish, then
   * long-polling), and tries the first again every `retryBestTransportAfterMs`.
   */
  transports?: ("websocket" | "sse" | "poll")[];
  /** Default 300 000 (5 min). */
  retryBestTransportAfterMs?: number;
  /** fetch for the SSE transport and the reachability probe (default: the global one). */
  fetch?: typeof fetch;
  /** Reconnection back-off: min 250 ms, max 30 s, factor 2, full jitter. */
  reconnect?: BackoffOptions;
  /** Outbound queue used while disconnected. */
  queue?: {
    /** Requests held while disconnected. Default 1000. */
    maxMessages?: number;
    /** A request (publish, history, presence) fails if not answered within this time. Default 30 000 ms. */
    timeoutMs?: number;
  };
  /** Reconnect at once on the browser's `online` event and when the page becomes visible. Default true. */
  retryOnOnline?: boolean;
  /** Give up on a connection attempt (socket open + `connect` reply) after this long. Default 10 000 ms. */
  connectTimeoutMs?: number;
}

export interface ReconnectingEvent {
  /** 0-based attempt number. */
  attempt: number;
  /** Delay before this attempt, ms. */
  delayMs: number;
  /** Why the previous connection ended (close code, or a client code). */
  code: number;
  reason: string;
}

export interface ConnectedEvent {
  /** The connection id. */
  client: string;
  version: string;
  pingIntervalMs: number;
  pongTimeoutMs: number;
}

export interface ClientEvents {
  state: ConnectionState;
  connected: ConnectedEvent;
  disconnected: { code: number; reason: string };
  reconnecting: ReconnectingEvent;
  /** Terminal errors (close code ≥ 4500, unauthorized) and token errors. */
  error: HeraldError;
  /** The token was replaced on the live connection (`refresh`) before it expired. */
  tokenRefreshed: undefined;
}

/**
 * A Herald client: one connection multiplexing every channel.
 *
 * ```ts
 * const herald = new Herald({ url: "ws://127.0.0.1:7700/ws" });
 * const room = herald.channel<ChatMessage>("chat:room-7");
 * room.on("publication", (p) => console.log(p.data.text));
 * await room.subscribe();
 * await room.publish({ text: "hi" });
 * ```
 */
export class Herald {
  private readonly opts: HeraldOptions;
  private readonly url: string;
  private readonly makeTransport: TransportFactory;
  private readonly events = new Emitter<ClientEvents>();
  private readonly channels = new Map<string, Channel<unknown>>();
  private readonly outbox: Outbox;

  private _state: ConnectionState = "idle";
  private transport: Transport | undefined;
  private generation = 0;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private livenessTimer: ReturnType<typeof setTimeout> | undefined;
  private livenessMs = 0;
  private tokenRetried = false;
  private removeEnvListeners: (() => void) | undefined;
  private refs = 0;
  private releaseTimer: ReturnType<typeof setTimeout> | undefined;
  private _connectionId: string | undefined;
  private lastError: HeraldError | undefined;
  /** The signed-in user's notification inbox (list, mark read, delete, live pushes). */
  readonly inbox: Inbox = new Inbox((frame) => this.request(frame));
  /** Collaborative (Yjs) documents on this connection; see `@herald/yjs`. */
  readonly documents: Documents = new Documents({
    session: (frame) => this.sessionRequest(frame),
    isConnected: () => this._state === "connected",
    ensureConnected: () => {
      if (this._state === "idle") this.connect();
    },
  });

  constructor(options: HeraldOptions) {
    this.opts = options;
    this.url = normalizeUrl(options.url);
    this.makeTransport = options.transport ?? defaultTransport(options);
    this.outbox = new Outbox(options.queue?.maxMessages ?? 1000, options.queue?.timeoutMs ?? 30_000);
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this._state;
  }

  /** The current transport (`"websocket"`, `"sse"`), while one is open. */
  get transportName(): string | undefined {
    return this.transport?.name;
  }

  /** The server's id for the current connection. */
  get connectionId(): string | undefined {
    return this._connectionId;
  }

  /** Requests waiting to be sent (while disconnected). */
  get queuedCount(): number {
    return this.outbox.queuedCount;
  }

  on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  /**
   * The channel named `name` (one object per name). The type parameter
   * describes its publications' `data`.
   */
  channel<T = unknown>(name: string): Channel<T> {
    let ch = this.channels.get(name);
    if (!ch) {
      ch = new Channel<unknown>(this, name, this.channelInternals);
      this.channels.set(name, ch);
    }
    return ch as Channel<T>;
  }

  /** Starts connecting (also done lazily by `subscribe()`, `publish()`…). From `offline`, tries again. */
  connect(): void {
    if (this._state === "closed") throw new HeraldError(ClientErrorCode.Closed, "client is closed");
    if (this._state === "connecting" || this._state === "connected" || this._state === "reconnecting") return;
    this.installEnvListeners();
    this.lastError = undefined;
    this.attempt = 0;
    this.setState("connecting");
    void this.open();
  }

  /**
   * Publishes `data` to `channel`. Resolves with the publication's position
   * once stored; queued while disconnected. An idempotency key is generated
   * unless given, so a publish re-sent after a reconnect is never duplicated.
   */
  publish<T>(channel: string, data: T, options: PublishOptions = {}): Promise<PublishResult> {
    const key = options.idempotencyKey ?? randomKey();
    return this.request({ op: "publish", channel, data, idempotency_key: key }).then((r) => ({
      epoch: String(r.epoch),
      offset: Number(r.offset),
      idempotencyKey: key,
    }));
  }

  /** Your unread counts per channel you have marked read in (needs a signed-in user). */
  async unread(): Promise<UnreadChannel[]> {
    const r = await this.request({ op: "unread" });
    const list = Array.isArray(r.channels) ? (r.channels as Record<string, unknown>[]) : [];
    return list.map((c) => ({ channel: String(c.channel), unread: Number(c.unread), offset: Number(c.offset) }));
  }

  /** Keeps the client open for one more user (see `release`). Used by `@herald/react`. */
  retain(): () => void {
    this.refs++;
    if (this.releaseTimer !== undefined) {
      clearTimeout(this.releaseTimer);
      this.releaseTimer = undefined;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.refs--;
      if (this.refs === 0) {
        // Deferred so that React Strict Mode's unmount+remount keeps the same socket.
        this.releaseTimer = setTimeout(() => {
          this.releaseTimer = undefined;
          if (this.refs === 0) this.close();
        }, 0);
      }
    };
  }

  /** Closes the connection and cleans up every timer and listener. Pending requests fail with code 1003. */
  close(): void {
    if (this._state === "closed") return;
    this.generation++;
    this.clearTimers();
    if (this.releaseTimer !== undefined) clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    this.removeEnvListeners?.();
    this.removeEnvListeners = undefined;
    const t = this.transport;
    this.transport = undefined;
    t?.close(1000, "client closed");
    const err = new HeraldError(ClientErrorCode.Closed, "client closed", false);
    this.outbox.failAll(err);
    for (const ch of this.channels.values()) ch._destroy();
    this.channels.clear();
    this.setState("closed");
    this.events.removeAll();
    this.inbox._destroy();
    this.documents._destroy();
  }

  // ---- internals shared with Channel ----

  /** Internal hooks for channels (not part of the public API). */
  private readonly channelInternals: ChannelInternals = {
    session: (frame) => this.sessionRequest(frame),
    request: (frame) => this.request(frame),
    isConnected: () => this._state === "connected",
    ensureConnected: () => {
      if (this._state === "idle") this.connect();
    },
  };

  /** Sends a user request now, or queues it while disconnected. */
  private request(frame: Frame): Promise<Record<string, unknown>> {
    if (this._state === "closed") return Promise.reject(new HeraldError(ClientErrorCode.Closed, "client closed"));
    if (this._state === "offline") {
      // Terminal state: nothing would send it. The app decides when to connect() again.
      return Promise.reject(
        this.lastError ?? new HeraldError(ClientErrorCode.Disconnected, "offline: call connect() to retry", false),
      );
    }
    if (this._state === "idle") this.connect();
    return this.outbox.user(frame, this._state === "connected" ? this.sender() : undefined);
  }

  /** Sends a session request (connect/subscribe/unsubscribe); fails if the connection drops. */
  private sessionRequest(frame: Frame): Promise<Record<string, unknown>> {
    return this.outbox.session(frame, this.sender());
  }

  /** Writes on the current transport, if there is one. */
  private sender(): SendText | undefined {
    const t = this.transport;
    return t ? (text) => t.send(text) : undefined;
  }

  private setState(s: ConnectionState): void {
    if (this._state === s) return;
    this._state = s;
    this.events.emit("state", s);
  }

  private clearTimers(): void {
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    if (this.livenessTimer !== undefined) clearTimeout(this.livenessTimer);
    this.reconnectTimer = undefined;
    this.livenessTimer = undefined;
  }

  private installEnvListeners(): void {
    if (this.removeEnvListeners || this.opts.retryOnOnline === false) return;
    const w = (globalThis as { window?: EventTarget }).window;
    const d = (globalThis as { document?: EventTarget & { visibilityState?: string } }).document;
    if (!w || typeof w.addEventListener !== "function") return;
    const retryNow = () => {
      if (this._state === "reconnecting" && this.reconnectTimer !== undefined) {
        clearTimeout(this.reconnectTimer);
        this.reconnectTimer = undefined;
        void this.open();
      }
    };
    const onVisible = () => {
      if (d?.visibilityState === "visible") retryNow();
    };
    w.addEventListener("online", retryNow);
    d?.addEventListener?.("visibilitychange", onVisible);
    this.removeEnvListeners = () => {
      w.removeEventListener("online", retryNow);
      d?.removeEventListener?.("visibilitychange", onVisible);
    };
  }

  private async open(): Promise<void> {
    const gen = ++this.generation;
    let token: string | undefined;
    try {
      token = this.opts.getToken ? await this.opts.getToken() : this.opts.token;
    } catch (e) {
      if (gen !== this.generation) return;
      this.events.emit("error", new HeraldError(ErrorCode.Unauthorized, `getToken failed: ${String(e)}`, true));
      this.scheduleReconnect(ClientErrorCode.Transport, "getToken failed");
      return;
    }
    if (gen !== this.generation) return;
    let transport: Transport;
    try {
      transport = await this.makeTransport(this.url, {
        onOpen: () => {
          if (gen !== this.generation) return;
          this.onTransportOpen(token);
        },
        onMessage: (text) => {
          if (gen !== this.generation) return;
          this.onFrame(text);
        },
        onClose: (code, reason) => {
          if (gen !== this.generation) return;
          this.onDisconnect(code, reason);
        },
      });
    } catch (e) {
      if (gen !== this.generation) return;
      this.scheduleReconnect(ClientErrorCode.Transport, `transport failed: ${String(e)}`);
      return;
    }
    if (gen !== this.generation) {
      transport.close(1000, "stale");
      return;
    }
    this.transport = transport;
    // A socket that never opens (or a server that never answers connect) must not hang the client.
    this.livenessMs = this.opts.connectTimeoutMs ?? 10_000;
    this.resetLiveness();
  }

  private onTransportOpen(token: string | undefined): void {
    const frame: Frame = { op: "connect" };
    if (token) frame.token = token;
    if (this.opts.clientName) frame.client = this.opts.clientName;
    const gen = this.generation;
    this.sessionRequest(frame).then(
      (r) => {
        if (gen !== this.generation) return;
        const info: ConnectedEvent = {
          client: String(r.client),
          version: String(r.version ?? ""),
          pingIntervalMs: Number(r.ping_interval_ms ?? 25_000),
          pongTimeoutMs: Number(r.pong_timeout_ms ?? 10_000),
        };
        this._connectionId = info.client;
        this.livenessMs = info.pingIntervalMs + info.pongTimeoutMs;
        this.resetLiveness();
        this.attempt = 0;
        this.tokenRetried = false;
        this.setState("connected");
        this.events.emit("connected", info);
        // Resubscribe first, then flush queued requests in order.
        for (const ch of this.channels.values()) ch._onConnected();
        const send = this.sender();
        if (send) this.outbox.flush(send);
      },
      (err: HeraldError) => {
        if (gen !== this.generation) return;
        if (err.code === ErrorCode.TokenExpired) {
          this.dropTransport(CloseCode.TokenExpired, err.message);
        } else if (!err.temporary && err.code !== ClientErrorCode.Disconnected) {
          this.dropTransport(4501, err.message);
        } else {
          this.dropTransport(CloseCode.ServerError, err.message);
        }
      },
    );
  }

  /** Closes the current transport ourselves and handles it as a disconnect with `code`. */
  private dropTransport(code: number, reason: string): void {
    const t = this.transport;
    this.onDisconnect(code, reason);
    t?.close(code >= 4000 ? code : 4000, reason.slice(0, 100));
  }

  private resetLiveness(): void {
    if (this.livenessTimer !== undefined) clearTimeout(this.livenessTimer);
    if (this.livenessMs <= 0) return;
    this.livenessTimer = setTimeout(() => {
      this.livenessTimer = undefined;
      this.dropTransport(
        CloseCode.PingTimeout,
        this._state === "connected"
          ? `no frame from the server for ${this.livenessMs} ms`
          : `no connection within ${this.livenessMs} ms`,
      );
    }, this.livenessMs);
  }

  private onFrame(text: string): void {
    this.resetLiveness();
    let msg: Record<string, unknown>;
    try {
      msg = asRecord(JSON.parse(text));
    } catch {
      return;
    }
    if (typeof msg.push === "string") {
      this.onPush(msg.push, msg);
      return;
    }
    this.outbox.settle(msg);
  }

  private onPush(kind: string, msg: Record<string, unknown>): void {
    switch (kind) {
      case "ping":
        this.transport?.send('{"op":"pong"}');
        return;
      case "disconnect":
        // The close frame follows with the same code; nothing to do until then.
        return;
      case "error":
        this.events.emit("error", HeraldError.fromWire(msg.error));
        return;
      case "notification":
      case "unread":
        this.inbox._onPush(kind, msg);
        return;
      case "doc":
        this.documents._onPush(msg);
        return;
      case "token_expiring":
        void this.refreshToken();
        return;
      default: {
        const ch = typeof msg.channel === "string" ? this.channels.get(msg.channel) : undefined;
        ch?._onPush(kind, msg);
      }
    }
  }

  /**
   * The token expires soon: get a new one and send `refresh` on the live
   * connection. Without `getToken`, or if it fails, the server closes with
   * 4004 at expiry and the reconnect path takes over.
   */
  private async refreshToken(): Promise<void> {
    if (!this.opts.getToken) return;
    const gen = this.generation;
    let token: string;
    try {
      token = await this.opts.getToken();
    } catch (e) {
      this.events.emit("error", new HeraldError(ErrorCode.Unauthorized, `getToken failed: ${String(e)}`, true));
      return;
    }
    if (gen !== this.generation || !this.transport) return;
    try {
      await this.sessionRequest({ op: "refresh", token });
      this.events.emit("tokenRefreshed", undefined);
    } catch (e) {
      if (e instanceof HeraldError && e.code !== ClientErrorCode.Disconnected) this.events.emit("error", e);
    }
  }

  private onDisconnect(code: number, reason: string): void {
    this.generation++;
    this.transport = undefined;
    if (this.livenessTimer !== undefined) clearTimeout(this.livenessTimer);
    this.livenessTimer = undefined;
    this._connectionId = undefined;
    // Session requests fail; user requests go back to the queue, to be re-sent in order.
    this.outbox.connectionLost(new HeraldError(ClientErrorCode.Disconnected, `connection lost (${code})`, true));
    for (const ch of this.channels.values()) ch._onDisconnected();
    if (this._state === "closed") return;
    this.events.emit("disconnected", { code, reason });

    const staleToken = code === CloseCode.TokenExpired && !this.opts.getToken;
    if (isTerminalCloseCode(code) || staleToken) {
      const err = new HeraldError(
        code,
        staleToken
          ? "token expired and no getToken() to refresh it"
          : reason || `connection refused (close code ${code})`,
        false,
      );
      this.lastError = err;
      this.setState("offline");
      this.events.emit("error", err);
      this.outbox.failAll(err);
      for (const ch of this.channels.values()) ch._fail(err);
      return;
    }
    if (code === CloseCode.TokenExpired && this.opts.getToken && !this.tokenRetried) {
      // Refresh the token (getToken runs on every connect) and reconnect at once.
      this.tokenRetried = true;
      this.setState("reconnecting");
      this.events.emit("reconnecting", { attempt: this.attempt, delayMs: 0, code, reason });
      void this.open();
      return;
    }
    this.scheduleReconnect(code, reason);
  }

  private scheduleReconnect(code: number, reason: string): void {
    if (this._state === "closed") return;
    const delayMs = backoffDelay(this.attempt, this.opts.reconnect);
    const attempt = this.attempt++;
    this.setState("reconnecting");
    this.events.emit("reconnecting", { attempt, delayMs, code, reason });
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.open();
    }, delayMs);
  }
}

/** @internal */
export interface ChannelInternals {
  session(frame: Frame): Promise<Record<string, unknown>>;
  request(frame: Frame): Promise<Record<string, unknown>>;
  isConnected(): boolean;
  ensureConnected(): void;
}
