/**
 * The SSE transport: the native protocol's frames carried over
 * `GET /sse` (one event stream for every subscribed channel) and
 * `POST /sse/publish` (docs/sse.md), for networks that block WebSockets.
 *
 * The client keeps speaking frames; this transport answers them:
 * - `connect` is answered once `/healthz` answers (the token is kept for
 *   the HTTP requests; the server checks it when the stream opens);
 * - `subscribe`/`unsubscribe` reopen the stream with the new channel list,
 *   resuming every other channel from its position (the event id), so
 *   nothing is lost or repeated; the subscribe reply comes from the
 *   stream's `connected` event (with `recovered` when `since` was given);
 * - `publish` becomes `POST /sse/publish`;
 * - the stream's events are the native pushes, passed on as they are;
 *   its `: ping` comments become `ping` pushes (liveness);
 * - other requests (history, presence, typing, read marks, inbox) have no
 *   SSE door and are refused with error 104.
 * When the stream ends the transport closes (with the `disconnect` event's
 * code, 1006 otherwise) and the client reconnects and recovers as usual.
 */
import type { Transport, TransportFactory, TransportHandlers } from "./transport.js";
import { asRecord } from "./util.js";

/** A stand-in position for a channel subscribed without `since`: the server answers with the channel's current position. */
const FRESH_EPOCH = "fresh";
/** Synthetic pings while no stream is open (no channel), so the client's liveness timer holds. */
const IDLE_PING_MS = 15_000;

type Json = Record<string, unknown>;
type FetchLike = typeof fetch;

interface Position {
  epoch: string;
  offset: number;
}

interface ChannelEntry {
  name: string;
  /** Known position (from event ids), used to resume on a reopen. */
  position: Position | undefined;
  /** The `since` of a subscribe not answered yet. */
  since: Position | undefined;
  /** The request id of a subscribe not answered yet. */
  replyTo: number | undefined;
}

/** `ws://host/ws` → `http://host`. */
export function httpBase(url: string): string {
  return url
    .replace(/^ws(s?):\/\//, "http$1://")
    .replace(/\/(ws|sse)\/?$/, "")
    .replace(/\/$/, "");
}

function errorReply(id: number, code: number, message: string, temporary = false): string {
  return JSON.stringify({ id, error: { code, message, temporary } });
}

/** Reads an event stream body, calling `onEvent` per event and `onComment` per comment line. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: string, data: string, id: string | undefined) => void,
  onComment: () => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (data.length > 0 || event) onEvent(event || "message", data.join("\n"), id);
        event = "";
        data = [];
        id = undefined;
      } else if (line.startsWith(":")) {
        onComment();
      } else {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id") id = value;
      }
    }
  }
}

export interface SseTransportOptions {
  /** The fetch implementation (default: the global one). */
  fetch?: FetchLike;
}

class SseTransport implements Transport {
  readonly name = "sse";
  private readonly base: string;
  private readonly fetch: FetchLike;
  private token: string | undefined;
  private readonly channels = new Map<string, ChannelEntry>();
  /** Channels of the open stream, in URL order (the event id's order). */
  private streamOrder: string[] = [];
  private abort: AbortController | undefined;
  private reopenQueued = false;
  /** After a refused batch, add new channels one per reopen to find the refused one. */
  private isolate = false;
  private idleTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(
    url: string,
    private readonly handlers: TransportHandlers,
    options: SseTransportOptions,
  ) {
    this.base = httpBase(url);
    const f = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
    if (!f) throw new Error("the SSE transport needs fetch");
    this.fetch = f;
    this.idleTimer = setInterval(() => {
      if (!this.abort) this.emit({ push: "ping" });
    }, IDLE_PING_MS);
    // After the factory has returned (and the client holds this transport).
    setTimeout(() => {
      if (!this.closed) handlers.onOpen();
    }, 0);
  }

  send(text: string): void {
    if (this.closed) return;
    let frame: Json;
    try {
      frame = asRecord(JSON.parse(text));
    } catch {
      return;
    }
    const id = typeof frame.id === "number" ? frame.id : undefined;
    const op = frame.op;
    if (op === "pong") return;
    if (id === undefined) return;
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
          this.handlers.onMessage(errorReply(id, 111, `not subscribed to ${name}`));
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
        this.handlers.onMessage(errorReply(id, 104, `${String(op)} is not available over the SSE transport`));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer);
    this.idleTimer = undefined;
    this.abort?.abort();
    this.abort = undefined;
  }

  private emit(push: Json): void {
    if (!this.closed) this.handlers.onMessage(JSON.stringify(push));
  }

  private reply(id: number, result: Json): void {
    if (!this.closed) this.handlers.onMessage(JSON.stringify({ id, result }));
  }

  /** Ends the transport: the client sees a closed connection and reconnects. */
  private fail(code: number, reason: string): void {
    if (this.closed) return;
    this.close();
    this.handlers.onClose(code, reason);
  }

  /** Answers `connect` once the server answers HTTP (so "connected" means reachable). */
  private async connect(id: number): Promise<void> {
    try {
      const res = await this.fetch(`${this.base}/healthz`, { cache: "no-store", signal: AbortSignal.timeout(10_000) });
      void res.body?.cancel().catch(() => {});
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
    } catch (e) {
      this.fail(1006, `server unreachable: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    this.reply(id, { client: "sse", version: "", ping_interval_ms: 20_000, pong_timeout_ms: 10_000 });
  }

  private headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  private subscribe(id: number, frame: Json): void {
    const name = String(frame.channel);
    if (this.channels.has(name)) {
      this.handlers.onMessage(errorReply(id, 105, `already subscribed to ${name}`));
      return;
    }
    const s = asRecord(frame.since);
    const since = typeof s.epoch === "string" && typeof s.offset === "number" ? { epoch: s.epoch, offset: s.offset } : undefined;
    this.channels.set(name, { name, position: undefined, since, replyTo: id });
    this.queueReopen();
  }

  /** Reopens the stream once per turn of the event loop, batching subscribes. */
  private queueReopen(): void {
    if (this.reopenQueued) return;
    this.reopenQueued = true;
    queueMicrotask(() => {
      this.reopenQueued = false;
      if (!this.closed) void this.reopen();
    });
  }

  private async reopen(): Promise<void> {
    this.abort?.abort();
    this.abort = undefined;
    const established = [...this.channels.values()].filter((c) => c.replyTo === undefined);
    let pending = [...this.channels.values()].filter((c) => c.replyTo !== undefined);
    if (this.isolate) pending = pending.slice(0, 1);
    const list = [...established, ...pending];
    this.streamOrder = list.map((c) => c.name);
    if (list.length === 0) {
      this.isolate = false;
      return;
    }
    const q = new URLSearchParams();
    for (const c of list) q.append("channel", c.name);
    const starts = list.map((c) => c.position ?? c.since ?? { epoch: FRESH_EPOCH, offset: 0 });
    const headers: Record<string, string> = { accept: "text/event-stream", ...this.headers() };
    // Resume every channel at once: established ones from their position, new ones from `since` (or fresh).
    if (list.some((c) => c.position || c.since)) headers["last-event-id"] = starts.map((p) => `${p.epoch}.${p.offset}`).join("~");
    const abort = new AbortController();
    this.abort = abort;
    let res: Response;
    try {
      res = await this.fetch(`${this.base}/sse?${q.toString()}`, { headers, signal: abort.signal, cache: "no-store" });
    } catch (e) {
      if (abort.signal.aborted || this.closed) return;
      this.fail(1006, `GET /sse failed: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (abort.signal.aborted || this.closed) {
      void res.body?.cancel().catch(() => {});
      return;
    }
    if (!res.ok || !res.body) {
      await this.refused(res, pending);
      return;
    }
    if (this.isolate && pending.length === 0) this.isolate = false;
    const order = this.streamOrder;
    let ended = { code: 1006, reason: "the event stream ended" };
    try {
      await readEvents(
        res.body,
        (event, data, id) => {
          if (abort.signal.aborted || this.closed) return;
          if (id) this.track(order, id);
          const d = event === "disconnect" ? asRecord(safeParse(data)) : undefined;
          if (d) ended = { code: Number(d.code ?? 1006), reason: String(d.reason ?? "disconnected") };
          this.onEvent(event, data);
        },
        () => {
          if (!abort.signal.aborted) this.emit({ push: "ping" });
        },
      );
    } catch {
      /* aborted or network error */
    }
    if (abort.signal.aborted || this.closed) return;
    this.fail(ended.code, ended.reason);
  }

  /** An HTTP error before the stream: answer the pending subscribes, or end the transport. */
  private async refused(res: Response, pending: ChannelEntry[]): Promise<void> {
    let err = asRecord(asRecord(await res.json().catch(() => ({}))).error);
    if (typeof err.code !== "number") err = { code: 100, message: `GET /sse: HTTP ${res.status}`, temporary: res.status >= 500 };
    if (res.status === 401 || res.status >= 500 || pending.length === 0) {
      this.fail(res.status === 401 ? 4501 : 4003, String(err.message));
      return;
    }
    if (pending.length > 1) {
      this.isolate = true;
    } else {
      const c = pending[0]!;
      this.channels.delete(c.name);
      if (c.replyTo !== undefined) this.handlers.onMessage(JSON.stringify({ id: c.replyTo, error: err }));
    }
    this.queueReopen();
  }

  /** Updates positions from an event id (one `epoch.offset` per channel, in URL order). */
  private track(order: string[], id: string): void {
    const parts = id.split("~");
    if (parts.length !== order.length) return;
    parts.forEach((p, i) => {
      const dot = p.lastIndexOf(".");
      const c = this.channels.get(order[i]!);
      if (c && dot > 0) c.position = { epoch: p.slice(0, dot), offset: Number(p.slice(dot + 1)) };
    });
  }

  private onEvent(event: string, data: string): void {
    const msg = asRecord(safeParse(data));
    if (event === "connected") {
      for (const raw of Array.isArray(msg.channels) ? msg.channels : []) {
        const info = asRecord(raw);
        const c = this.channels.get(String(info.channel));
        if (!c) continue;
        if (c.replyTo !== undefined) {
          const result: Json = { channel: c.name, epoch: String(info.epoch), offset: Number(info.offset) };
          if (c.since) result.recovered = info.recovered === true;
          const id = c.replyTo;
          c.replyTo = undefined;
          c.since = undefined;
          this.reply(id, result);
        } else if (info.recovered === false) {
          // Resuming an established channel failed: the client resubscribes and is told `recovered: false`.
          this.emit({
            push: "unsubscribed",
            channel: c.name,
            error: { code: 116, message: "missed publications could not be recovered", temporary: true },
          });
          this.channels.delete(c.name);
        }
      }
      return;
    }
    // The channel's position is in every event id; the client continues from its subscribe reply.
    if (event === "recovery-failed") return;
    if (typeof msg.push === "string") this.emit(msg);
  }

  private async publish(id: number, frame: Json): Promise<void> {
    const body: Json = { channel: frame.channel, data: frame.data };
    if (typeof frame.idempotency_key === "string") body.idempotency_key = frame.idempotency_key;
    let res: Response;
    try {
      res = await this.fetch(`${this.base}/sse/publish`, {
        method: "POST",
        headers: { "content-type": "application/json", ...this.headers() },
        body: JSON.stringify(body),
        cache: "no-store",
      });
    } catch (e) {
      // Unanswered: the client re-sends it (same idempotency key) after reconnecting.
      this.fail(1006, `POST /sse/publish failed: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const json = asRecord(await res.json().catch(() => ({})));
    if (this.closed) return;
    if (res.ok && json.error === undefined) this.reply(id, json);
    else if (json.error !== undefined) this.handlers.onMessage(JSON.stringify({ id, error: json.error }));
    else this.handlers.onMessage(errorReply(id, 100, `POST /sse/publish: HTTP ${res.status}`, res.status >= 500));
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The SSE transport (`GET /sse` + `POST /sse/publish`) as a {@link TransportFactory}. */
export function sseTransport(options: SseTransportOptions = {}): TransportFactory {
  return (url, handlers) => new SseTransport(url, handlers, options);
}
