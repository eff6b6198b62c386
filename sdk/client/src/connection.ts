/**
 * The connection state machine behind a `Herald` client: one transport at a
 * time, `connect` (with the token) on every open, liveness, the reconnect
 * back-off, token refresh, and the terminal `offline` state. What the
 * connection carries (channels, inbox, documents) stays in the client,
 * which this module tells about pushes and about the connection coming and
 * going through {@link ConnectionHooks}.
 */
import { backoffDelay } from "./backoff.js";
import type { ClientEvents, ConnectedEvent, HeraldOptions } from "./client.js";
import type { Emitter } from "./emitter.js";
import { ClientErrorCode, CloseCode, ErrorCode, HeraldError, isTerminalCloseCode } from "./errors.js";
import type { Frame, Outbox, SendText } from "./outbox.js";
import type { Transport, TransportFactory } from "./transport.js";
import type { ConnectionState } from "./types.js";
import { asRecord } from "./wire.js";

/** What the connection tells the client that owns it. */
export interface ConnectionHooks {
  /** `connect` was answered: resubscribe (the outbox is flushed right after). */
  connected(): void;
  /** A push the connection itself does not handle (channel, inbox and document pushes). */
  push(kind: string, msg: Record<string, unknown>): void;
  /** The connection dropped (session requests have failed; user requests are queued again). */
  lost(): void;
  /** The connection stopped for good (`offline`): every waiter fails with `err`. */
  failed(err: HeraldError): void;
}

export class Connection {
  private _state: ConnectionState = "idle";
  private transport: Transport | undefined;
  /** Bumped on every open and drop, so callbacks of an older transport are ignored. */
  private generation = 0;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private livenessTimer: ReturnType<typeof setTimeout> | undefined;
  private livenessMs = 0;
  private tokenRetried = false;
  private removeEnvListeners: (() => void) | undefined;
  private _connectionId: string | undefined;
  private _lastError: HeraldError | undefined;

  constructor(
    private readonly opts: HeraldOptions,
    private readonly url: string,
    private readonly makeTransport: TransportFactory,
    private readonly outbox: Outbox,
    private readonly events: Emitter<ClientEvents>,
    private readonly hooks: ConnectionHooks,
  ) {}

  get state(): ConnectionState {
    return this._state;
  }

  get transportName(): string | undefined {
    return this.transport?.name;
  }

  get connectionId(): string | undefined {
    return this._connectionId;
  }

  /** Why the connection went `offline` (until the next `connect()`). */
  get lastError(): HeraldError | undefined {
    return this._lastError;
  }

  /** Starts connecting; from `offline`, tries again. */
  connect(): void {
    if (this._state === "closed") throw new HeraldError(ClientErrorCode.Closed, "client is closed");
    if (this._state === "connecting" || this._state === "connected" || this._state === "reconnecting") return;
    this.installEnvListeners();
    this._lastError = undefined;
    this.attempt = 0;
    this.setState("connecting");
    void this.open();
  }

  /** Sends a session request (connect/subscribe/unsubscribe); fails if the connection drops. */
  sessionRequest(frame: Frame): Promise<Record<string, unknown>> {
    return this.outbox.session(frame, this.sender());
  }

  /** Writes on the current transport, if there is one. */
  sender(): SendText | undefined {
    const t = this.transport;
    return t ? (text) => t.send(text) : undefined;
  }

  /** Stops every timer and listener and closes the transport (`close()` of the client, before `closed`). */
  shutdown(): void {
    this.generation++;
    this.clearTimers();
    this.removeEnvListeners?.();
    this.removeEnvListeners = undefined;
    const t = this.transport;
    this.transport = undefined;
    t?.close(1000, "client closed");
  }

  setState(s: ConnectionState): void {
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
        this.hooks.connected();
        const send = this.sender();
        if (send) this.outbox.flush(send);
      },
      (err: HeraldError) => {
        if (gen !== this.generation) return;
        if (err.code === ErrorCode.TokenExpired) {
          this.dropTransport(CloseCode.TokenExpired, err.message);
        } else if (!err.temporary && err.code !== ClientErrorCode.Disconnected) {
          this.dropTransport(CloseCode.Unauthorized, err.message);
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
      case "token_expiring":
        void this.refreshToken();
        return;
      default:
        this.hooks.push(kind, msg);
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
    this.hooks.lost();
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
      this._lastError = err;
      this.setState("offline");
      this.events.emit("error", err);
      this.outbox.failAll(err);
      this.hooks.failed(err);
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
