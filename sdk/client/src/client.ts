import type { BackoffOptions } from "./backoff.js";
import { Channel, type ChannelOptions } from "./channel.js";
import { Connection } from "./connection.js";
import { Emitter } from "./emitter.js";
import { Inbox } from "./inbox.js";
import { ClientErrorCode, HeraldError } from "./errors.js";
import { Documents } from "./documents.js";
import { defaultTransport } from "./fallback.js";
import { Outbox, type Frame } from "./outbox.js";
import { normalizeUrl, randomKey } from "./util.js";
import type { TransportFactory, WebSocketConstructor } from "./transport.js";
import type { ConnectionState, PublishOptions, PublishResult, UnreadChannel } from "./types.js";
import { decodeUnreadChannels } from "./wire.js";

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
  private readonly events = new Emitter<ClientEvents>();
  private readonly channels = new Map<string, Channel<unknown>>();
  private readonly outbox: Outbox;
  private readonly connection: Connection;
  private refs = 0;
  private releaseTimer: ReturnType<typeof setTimeout> | undefined;
  /** The signed-in user's notification inbox (list, mark read, delete, live pushes). */
  readonly inbox: Inbox = new Inbox((frame) => this.request(frame));
  /** Collaborative (Yjs) documents on this connection; see `@herald/yjs`. */
  readonly documents: Documents = new Documents({
    session: (frame) => this.connection.sessionRequest(frame),
    isConnected: () => this.state === "connected",
    ensureConnected: () => {
      if (this.state === "idle") this.connect();
    },
    transportName: () => this.connection.transportName,
  });

  constructor(options: HeraldOptions) {
    this.outbox = new Outbox(options.queue?.maxMessages ?? 1000, options.queue?.timeoutMs ?? 30_000);
    this.connection = new Connection(
      options,
      normalizeUrl(options.url),
      options.transport ?? defaultTransport(options),
      this.outbox,
      this.events,
      {
        connected: () => {
          for (const ch of this.channels.values()) ch._onConnected();
        },
        push: (kind, msg) => this.routePush(kind, msg),
        lost: () => {
          for (const ch of this.channels.values()) ch._onDisconnected();
        },
        failed: (err) => {
          for (const ch of this.channels.values()) ch._fail(err);
        },
      },
    );
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.connection.state;
  }

  /** The current transport (`"websocket"`, `"sse"`), while one is open. */
  get transportName(): string | undefined {
    return this.connection.transportName;
  }

  /** The server's id for the current connection. */
  get connectionId(): string | undefined {
    return this.connection.connectionId;
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
   * describes its publications' `data`. With `options.encryption` the
   * channel's `data` is end-to-end encrypted (docs/encryption.md); pass the
   * same options object on later calls (a different one replaces the keys).
   */
  channel<T = unknown>(name: string, options: ChannelOptions = {}): Channel<T> {
    let ch = this.channels.get(name);
    if (!ch) {
      ch = new Channel<unknown>(this, name, this.channelInternals);
      this.channels.set(name, ch);
    }
    ch._setEncryption(options);
    ch._setSubscription(options);
    return ch as Channel<T>;
  }

  /** Starts connecting (also done lazily by `subscribe()`, `publish()`…). From `offline`, tries again. */
  connect(): void {
    this.connection.connect();
  }

  /**
   * Publishes `data` to `channel`. Resolves with the publication's position
   * once stored; queued while disconnected. An idempotency key is generated
   * unless given, so a publish re-sent after a reconnect is never duplicated.
   * On an encrypted channel (`herald.channel(name, { encryption })`) `data`
   * is sealed first, so only the envelope is sent or queued.
   */
  publish<T>(channel: string, data: T, options: PublishOptions = {}): Promise<PublishResult> {
    const key = options.idempotencyKey ?? randomKey();
    const send = (wireData: unknown) =>
      this.request({ op: "publish", channel, data: wireData, idempotency_key: key }).then((r) => ({
        epoch: String(r.epoch),
        offset: Number(r.offset),
        idempotencyKey: key,
      }));
    const cipher = this.channels.get(channel)?._cipher;
    return cipher ? cipher.sealThen(data, send) : send(data);
  }

  /** Your unread counts per channel you have marked read in (needs a signed-in user). */
  async unread(): Promise<UnreadChannel[]> {
    const r = await this.request({ op: "unread" });
    return decodeUnreadChannels(r.channels);
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
    if (this.state === "closed") return;
    this.connection.shutdown();
    if (this.releaseTimer !== undefined) clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    const err = new HeraldError(ClientErrorCode.Closed, "client closed", false);
    this.outbox.failAll(err);
    for (const ch of this.channels.values()) ch._destroy();
    this.channels.clear();
    this.connection.setState("closed");
    this.events.removeAll();
    this.inbox._destroy();
    this.documents._destroy();
  }

  // ---- internals shared with Channel ----

  /** Internal hooks for channels (not part of the public API). */
  private readonly channelInternals: ChannelInternals = {
    session: (frame) => this.connection.sessionRequest(frame),
    request: (frame) => this.request(frame),
    isConnected: () => this.state === "connected",
    ensureConnected: () => {
      if (this.state === "idle") this.connect();
    },
  };

  /** Sends a user request now, or queues it while disconnected. */
  private request(frame: Frame): Promise<Record<string, unknown>> {
    const state = this.state;
    if (state === "closed") return Promise.reject(new HeraldError(ClientErrorCode.Closed, "client closed"));
    if (state === "offline") {
      // Terminal state: nothing would send it. The app decides when to connect() again.
      return Promise.reject(
        this.connection.lastError ??
          new HeraldError(ClientErrorCode.Disconnected, "offline: call connect() to retry", false),
      );
    }
    if (state === "idle") this.connect();
    return this.outbox.user(frame, this.state === "connected" ? this.connection.sender() : undefined);
  }

  /** Channel, inbox and document pushes, to whom they are for. */
  private routePush(kind: string, msg: Record<string, unknown>): void {
    switch (kind) {
      case "notification":
      case "unread":
        this.inbox._onPush(kind, msg);
        return;
      case "doc":
        this.documents._onPush(msg);
        return;
      default: {
        const ch = typeof msg.channel === "string" ? this.channels.get(msg.channel) : undefined;
        ch?._onPush(kind, msg);
      }
    }
  }
}

/** @internal */
export interface ChannelInternals {
  session(frame: Frame): Promise<Record<string, unknown>>;
  request(frame: Frame): Promise<Record<string, unknown>>;
  isConnected(): boolean;
  ensureConnected(): void;
}
