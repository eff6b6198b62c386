/**
 * What the SSE and long-poll transports share: the native protocol's frames
 * answered over HTTP (docs/sse.md).
 *
 * - `connect` is answered once `/healthz` answers (the token is kept for the
 *   HTTP requests; the server checks it when a channel request is made);
 * - `refresh` replaces the token for the next requests;
 * - `subscribe`/`unsubscribe` change the channel set; the subclass reopens
 *   its stream or poll loop, resuming the other channels from their
 *   positions, and answers the subscribes;
 * - `publish` becomes `POST /sse/publish`;
 * - other requests (history, presence, read marks and positions, unread,
 *   inbox) go to `POST /sse/request` as they are; those that need a
 *   connection (typing, presence state, client events) are refused there
 *   with error 104.
 * When the subclass's channel request fails the transport closes (1006, or
 * the server's `disconnect` code) and the client reconnects and recovers.
 */
import type { Transport, TransportHandlers } from "./transport.js";
import { asRecord } from "./wire.js";

export type Json = Record<string, unknown>;
export type FetchLike = typeof fetch;

export interface Position {
  epoch: string;
  offset: number;
}

export interface ChannelEntry {
  name: string;
  /** Known position (from event ids), used to resume on a reopen. */
  position: Position | undefined;
  /** The `since` of a subscribe not answered yet. */
  since: Position | undefined;
  /** The request id of a subscribe not answered yet. */
  replyTo: number | undefined;
}

/** A stand-in position for a channel without one: the server answers with the channel's current position. */
export const FRESH: Position = { epoch: "fresh", offset: 0 };
/** Synthetic pings, so the client's liveness timer holds between HTTP answers. */
const PING_EVERY_MS = 15_000;

/** `ws://host/ws` → `http://host`. */
export function httpBase(url: string): string {
  return url
    .replace(/^ws(s?):\/\//, "http$1://")
    .replace(/\/(ws|sse)\/?$/, "")
    .replace(/\/$/, "");
}

/** An event id: one `epoch.offset` per channel, joined by `~`. */
export function formatId(positions: Position[]): string {
  return positions.map((p) => `${p.epoch}.${p.offset}`).join("~");
}

/** The positions of an event id, or undefined when it does not have `count` of them. */
export function parseId(id: string, count: number): Position[] | undefined {
  const parts = id.split("~");
  if (parts.length !== count) return undefined;
  const out: Position[] = [];
  for (const p of parts) {
    const dot = p.lastIndexOf(".");
    if (dot <= 0) return undefined;
    out.push({ epoch: p.slice(0, dot), offset: Number(p.slice(dot + 1)) });
  }
  return out;
}

export function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export interface HttpTransportOptions {
  /** The fetch implementation (default: the global one). */
  fetch?: FetchLike;
}

export abstract class HttpTransport implements Transport {
  abstract readonly name: string;
  /** Set when the channel request never got going (a buffering proxy): the fallback moves on. */
  blocked = false;
  protected readonly base: string;
  protected readonly fetch: FetchLike;
  protected token: string | undefined;
  protected readonly channels = new Map<string, ChannelEntry>();
  /** Aborts the running stream or poll loop. */
  protected abort: AbortController | undefined;
  /** After a refused batch, add new channels one per reopen to find the refused one. */
  protected isolate = false;
  protected closed = false;
  private reopenQueued = false;
  private pingTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    url: string,
    protected readonly handlers: TransportHandlers,
    options: HttpTransportOptions,
    /** Whether to emit synthetic pings only while nothing is running (SSE has its own heartbeats). */
    pingOnlyWhenIdle: boolean,
  ) {
    this.base = httpBase(url);
    const f = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
    if (!f) throw new Error("HTTP transports need fetch");
    // Called as a plain function: a browser's fetch throws "Illegal invocation" when called as a method of another object.
    this.fetch = (input, init) => f(input, init);
    this.pingTimer = setInterval(() => {
      if (!pingOnlyWhenIdle || !this.abort) this.emit({ push: "ping" });
    }, PING_EVERY_MS);
    // After the factory has returned (and the client holds this transport).
    setTimeout(() => {
      if (!this.closed) handlers.onOpen();
    }, 0);
  }

  /** (Re)starts the stream or poll loop for the current channels; runs until aborted or failed. */
  protected abstract run(abort: AbortController): Promise<void>;

  send(text: string): void {
    if (this.closed) return;
    const frame = asRecord(safeParse(text));
    const id = typeof frame.id === "number" ? frame.id : undefined;
    const op = frame.op;
    if (op === "pong" || id === undefined) return;
    switch (op) {
      case "connect":
        if (typeof frame.token === "string") this.token = frame.token;
        void this.connect(id);
        return;
      case "refresh":
        if (typeof frame.token === "string") this.token = frame.token;
        this.reply(id, {});
        return;
      case "subscribe":
        this.subscribe(id, frame);
        return;
      case "unsubscribe": {
        const name = String(frame.channel);
        if (!this.channels.delete(name)) {
          this.replyError(id, { code: 111, message: `not subscribed to ${name}`, temporary: false });
          return;
        }
        this.reply(id, {});
        this.queueReopen();
        return;
      }
      case "publish":
        void this.publish(id, frame);
        return;
      default:
        // Requests that need a connection (typing, presence state, client events) come back as 104.
        void this.request(id, frame);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    this.abort?.abort();
    this.abort = undefined;
  }

  protected emit(push: Json): void {
    if (!this.closed) this.handlers.onMessage(JSON.stringify(push));
  }

  protected reply(id: number, result: Json): void {
    if (!this.closed) this.handlers.onMessage(JSON.stringify({ id, result }));
  }

  protected replyError(id: number, error: unknown): void {
    if (!this.closed) this.handlers.onMessage(JSON.stringify({ id, error }));
  }

  /** Ends the transport: the client sees a closed connection and reconnects. */
  protected fail(code: number, reason: string): void {
    if (this.closed) return;
    this.close();
    this.handlers.onClose(code, reason);
  }

  protected headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** Established channels first (in insertion order), then pending ones (one at a time while isolating). */
  protected channelList(): { list: ChannelEntry[]; pending: ChannelEntry[] } {
    const established = [...this.channels.values()].filter((c) => c.replyTo === undefined);
    let pending = [...this.channels.values()].filter((c) => c.replyTo !== undefined);
    if (this.isolate) pending = pending.slice(0, 1);
    if (this.isolate && pending.length === 0) this.isolate = false;
    return { list: [...established, ...pending], pending };
  }

  /** Answers a pending subscribe. */
  protected answer(c: ChannelEntry, result: Json): void {
    const id = c.replyTo;
    c.replyTo = undefined;
    c.since = undefined;
    if (id !== undefined) this.reply(id, { channel: c.name, ...result });
  }

  /** The server ended (or could not resume) a channel: the client resubscribes with its position. */
  protected dropChannel(name: string, message: string): void {
    this.channels.delete(name);
    this.emit({ push: "unsubscribed", channel: name, error: { code: 116, message, temporary: true } });
  }

  /** An HTTP error on a channel request: answer the pending subscribe, or end the transport. */
  protected async refused(res: Response, pending: ChannelEntry[]): Promise<void> {
    let err = asRecord(asRecord(await res.json().catch(() => ({}))).error);
    if (typeof err.code !== "number") err = { code: 100, message: `HTTP ${res.status}`, temporary: res.status >= 500 };
    if (err.code === 117) {
      // Token expired: the client gets a new one (getToken) and reconnects.
      this.fail(4004, String(err.message));
      return;
    }
    if (res.status === 401 || res.status >= 500 || pending.length === 0) {
      this.fail(res.status === 401 ? 4501 : 4003, String(err.message));
      return;
    }
    if (pending.length > 1) {
      this.isolate = true;
    } else {
      const c = pending[0]!;
      this.channels.delete(c.name);
      if (c.replyTo !== undefined) this.replyError(c.replyTo, err);
    }
    this.queueReopen();
  }

  /** Reopens once per turn of the event loop, batching subscribes. */
  protected queueReopen(): void {
    if (this.reopenQueued) return;
    this.reopenQueued = true;
    queueMicrotask(() => {
      this.reopenQueued = false;
      if (this.closed) return;
      this.abort?.abort();
      if (this.channels.size === 0) {
        this.abort = undefined;
        this.isolate = false;
        return;
      }
      const abort = new AbortController();
      this.abort = abort;
      void this.run(abort);
    });
  }

  /** Answers `connect` once the server answers HTTP (so "connected" means reachable). */
  private async connect(id: number): Promise<void> {
    try {
      // no-cors: /healthz has no CORS headers; an opaque answer from another origin still proves it is up.
      const res = await this.fetch(`${this.base}/healthz`, { cache: "no-store", mode: "no-cors", signal: AbortSignal.timeout(10_000) });
      void res.body?.cancel().catch(() => {});
      if (!res.ok && res.type !== "opaque") throw new Error(`HTTP ${res.status}`);
    } catch (e) {
      this.fail(1006, `server unreachable: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    this.reply(id, { client: this.name, version: "", ping_interval_ms: 20_000, pong_timeout_ms: 50_000 });
  }

  private subscribe(id: number, frame: Json): void {
    const name = String(frame.channel);
    if (this.channels.has(name)) {
      this.replyError(id, { code: 105, message: `already subscribed to ${name}`, temporary: false });
      return;
    }
    const s = asRecord(frame.since);
    const since = typeof s.epoch === "string" && typeof s.offset === "number" ? { epoch: s.epoch, offset: s.offset } : undefined;
    this.channels.set(name, { name, position: undefined, since, replyTo: id });
    this.queueReopen();
  }

  private publish(id: number, frame: Json): Promise<void> {
    const body: Json = { channel: frame.channel, data: frame.data };
    if (typeof frame.idempotency_key === "string") body.idempotency_key = frame.idempotency_key;
    return this.post(id, "/sse/publish", body, (json) => json);
  }

  /** History, presence, read receipts, inbox: the native frame as is; the reply carries `result`. */
  private request(id: number, frame: Json): Promise<void> {
    return this.post(id, "/sse/request", frame, (json) => asRecord(json.result));
  }

  /** POSTs `body` and answers request `id` with `result(json)` or the server's error. */
  private async post(id: number, path: string, body: Json, result: (json: Json) => Json): Promise<void> {
    let res: Response;
    try {
      res = await this.fetch(`${this.base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.headers() },
        body: JSON.stringify(body),
        cache: "no-store",
      });
    } catch (e) {
      // Unanswered: the client re-sends it (a publish with the same idempotency key) after reconnecting.
      this.fail(1006, `POST ${path} failed: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const json = asRecord(await res.json().catch(() => ({})));
    if (asRecord(json.error).code === 117) {
      // Token expired (a stream outlives its token): reconnect with a new one; the client re-sends the request.
      this.fail(4004, "token expired");
      return;
    }
    if (res.ok && json.error === undefined) this.reply(id, result(json));
    else if (json.error !== undefined) this.replyError(id, json.error);
    else this.replyError(id, { code: 100, message: `POST ${path}: HTTP ${res.status}`, temporary: res.status >= 500 });
  }
}
