/**
 * The SSE transport: one `GET /sse` event stream for every subscribed
 * channel, plus `POST /sse/publish` (docs/sse.md); see `http-transport.ts`
 * for how frames are answered.
 *
 * Every subscribe/unsubscribe reopens the stream with the new channel list
 * and a `Last-Event-ID` resuming the other channels from their positions, so
 * nothing is lost or repeated. A subscribe is answered from the stream's
 * `connected` event (with `recovered` when the client gave `since`); the
 * stream's events are the native pushes, passed on as they are; its
 * `: ping` comments become `ping` pushes (liveness).
 */
import type { TransportFactory, TransportHandlers } from "./transport.js";
import { asRecord } from "./wire.js";
import { FRESH, formatId, HttpTransport, parseId, safeParse, type HttpTransportOptions } from "./http-transport.js";

export { httpBase } from "./http-transport.js";
export type SseTransportOptions = HttpTransportOptions & {
  /** A stream that has not sent its `connected` event after this long is blocked (a buffering proxy). Default 10 000 ms. */
  openTimeoutMs?: number;
};

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

class SseTransport extends HttpTransport {
  readonly name = "sse";
  private readonly openTimeoutMs: number;

  constructor(url: string, handlers: TransportHandlers, options: SseTransportOptions) {
    super(url, handlers, options, true);
    this.openTimeoutMs = options.openTimeoutMs ?? 10_000;
  }

  protected async run(abort: AbortController): Promise<void> {
    const { list, pending } = this.channelList();
    const order = list.map((c) => c.name);
    const q = new URLSearchParams();
    for (const name of order) q.append("channel", name);
    const headers: Record<string, string> = { accept: "text/event-stream", ...this.headers() };
    // Resume every channel at once: established ones from their position, new ones from `since` (or fresh).
    if (list.some((c) => c.position || c.since)) headers["last-event-id"] = formatId(list.map((c) => c.position ?? c.since ?? FRESH));
    let opened = false;
    const openTimer = setTimeout(() => {
      if (opened || abort.signal.aborted || this.closed) return;
      this.blocked = true;
      this.fail(1006, `no event stream after ${this.openTimeoutMs} ms (a proxy buffering it?)`);
    }, this.openTimeoutMs);
    let res: Response;
    try {
      res = await this.fetch(`${this.base}/sse?${q.toString()}`, { headers, signal: abort.signal, cache: "no-store" });
    } catch (e) {
      clearTimeout(openTimer);
      if (!abort.signal.aborted) this.fail(1006, `GET /sse failed: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (abort.signal.aborted || this.closed) {
      clearTimeout(openTimer);
      void res.body?.cancel().catch(() => {});
      return;
    }
    if (!res.ok || !res.body) {
      clearTimeout(openTimer);
      await this.refused(res, pending);
      return;
    }
    let ended = { code: 1006, reason: "the event stream ended" };
    try {
      await readEvents(
        res.body,
        (event, data, id) => {
          if (abort.signal.aborted || this.closed) return;
          if (id) this.track(order, id);
          const msg = asRecord(safeParse(data));
          if (event === "connected") {
            opened = true;
            clearTimeout(openTimer);
            this.onConnected(msg);
          } else if (event === "disconnect") {
            ended = { code: Number(msg.code ?? 1006), reason: String(msg.reason ?? "disconnected") };
            this.emit(msg);
          } else if (event !== "recovery-failed" && typeof msg.push === "string") {
            // (A refused resume is already told by `connected`; the id carries the new position.)
            this.emit(msg);
          }
        },
        () => {
          if (!abort.signal.aborted) this.emit({ push: "ping" });
        },
      );
    } catch {
      /* aborted or network error */
    }
    clearTimeout(openTimer);
    if (!abort.signal.aborted) this.fail(ended.code, ended.reason);
  }

  /** Updates positions from an event id (one `epoch.offset` per channel, in URL order). */
  private track(order: string[], id: string): void {
    const positions = parseId(id, order.length);
    positions?.forEach((p, i) => {
      const c = this.channels.get(order[i]!);
      if (c) c.position = p;
    });
  }

  private onConnected(msg: Record<string, unknown>): void {
    for (const raw of Array.isArray(msg.channels) ? msg.channels : []) {
      const info = asRecord(raw);
      const c = this.channels.get(String(info.channel));
      if (!c) continue;
      if (c.replyTo !== undefined) {
        const result: Record<string, unknown> = { epoch: String(info.epoch), offset: Number(info.offset) };
        if (c.since) result.recovered = info.recovered === true;
        this.answer(c, result);
      } else if (info.recovered === false) {
        // Resuming an established channel failed: the client resubscribes and is told `recovered: false`.
        this.dropChannel(c.name, "missed publications could not be recovered");
      }
    }
  }
}

/** The SSE transport (`GET /sse` + `POST /sse/publish`) as a {@link TransportFactory}. */
export function sseTransport(options: SseTransportOptions = {}): TransportFactory {
  return (url, handlers) => new SseTransport(url, handlers, options);
}
