/**
 * The long-poll transport: `GET /poll` in a loop, plus `POST /sse/publish`
 * (docs/sse.md), for networks where even an event stream does not get
 * through; see `http-transport.ts` for how frames are answered.
 *
 * New subscriptions are answered by a poll without `since` for just those
 * channels (it returns at once with their current positions). With a
 * `since`, the subscription is `recovered: true` when the channel is still
 * in the same epoch at or past it; the loop's next poll then brings the
 * missed publications, or a `recovery-failed` event, in which case the
 * channel is dropped and the client's resubscribe is answered
 * `recovered: false`. The loop polls every channel with the id of the last
 * answer, so nothing is lost or repeated between polls.
 */
import type { TransportFactory, TransportHandlers } from "./transport.js";
import { asRecord } from "./wire.js";
import { formatId, HttpTransport, parseId, type ChannelEntry, type HttpTransportOptions, type Position } from "./http-transport.js";

export type PollTransportOptions = HttpTransportOptions & {
  /** Abandon a poll that has not answered after this long (the server answers within `sse.poll_timeout_secs`, 25 s). Default 60 000 ms. */
  pollTimeoutMs?: number;
};

class PollTransport extends HttpTransport {
  readonly name = "poll";
  private readonly pollTimeoutMs: number;
  /** Channels whose recovery the loop found impossible: their next subscribe says `recovered: false`. */
  private readonly unrecoverable = new Set<string>();

  constructor(url: string, handlers: TransportHandlers, options: PollTransportOptions) {
    super(url, handlers, options, false);
    this.pollTimeoutMs = options.pollTimeoutMs ?? 60_000;
  }

  private async poll(channels: ChannelEntry[], since: Position[] | undefined, abort: AbortController): Promise<Response | undefined> {
    const q = new URLSearchParams();
    for (const c of channels) q.append("channel", c.name);
    if (since) q.set("since", formatId(since));
    // This poll's own controller: aborted with the loop, or after pollTimeoutMs.
    const mine = new AbortController();
    const onAbort = () => mine.abort();
    abort.signal.addEventListener("abort", onAbort);
    const timer = setTimeout(() => mine.abort(), this.pollTimeoutMs);
    try {
      const res = await this.fetch(`${this.base}/poll?${q.toString()}`, { headers: this.headers(), signal: mine.signal, cache: "no-store" });
      // Read the body under the same signals.
      const text = await res.text();
      return new Response(text, { status: res.status, headers: res.headers });
    } catch (e) {
      if (!abort.signal.aborted) this.fail(1006, `GET /poll failed: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    } finally {
      clearTimeout(timer);
      abort.signal.removeEventListener("abort", onAbort);
    }
  }

  protected async run(abort: AbortController): Promise<void> {
    const { pending } = this.channelList();
    if (pending.length > 0) {
      // Current positions of the new channels (answers at once).
      const res = await this.poll(pending, undefined, abort);
      if (!res || abort.signal.aborted || this.closed) return;
      if (!res.ok) {
        await this.refused(res, pending);
        return;
      }
      const body = asRecord(await res.json().catch(() => ({})));
      const tops = parseId(String(body.id ?? ""), pending.length);
      if (!tops) {
        this.fail(1006, "GET /poll: unreadable id");
        return;
      }
      pending.forEach((c, i) => {
        const top = tops[i]!;
        const since = c.since;
        const recovered =
          since !== undefined && !this.unrecoverable.has(c.name) && since.epoch === top.epoch && since.offset <= top.offset;
        this.unrecoverable.delete(c.name);
        c.position = recovered ? since : top;
        const result: Record<string, unknown> = { epoch: top.epoch, offset: c.position.offset };
        if (since) result.recovered = recovered;
        this.answer(c, result);
      });
      if (this.isolate) {
        // More new channels wait to be checked one by one.
        this.queueReopen();
        return;
      }
    }
    while (!abort.signal.aborted && !this.closed) {
      const list = [...this.channels.values()].filter((c) => c.replyTo === undefined && c.position);
      if (list.length === 0) return;
      const res = await this.poll(list, list.map((c) => c.position!), abort);
      if (!res || abort.signal.aborted || this.closed) return;
      if (!res.ok) {
        await this.refused(res, []);
        return;
      }
      const body = asRecord(await res.json().catch(() => ({})));
      if (abort.signal.aborted || this.closed) return;
      const positions = parseId(String(body.id ?? ""), list.length);
      const events = Array.isArray(body.events) ? body.events : [];
      for (const raw of events) {
        const e = asRecord(raw);
        const kind = String(e.event ?? "");
        const { event: _drop, ...rest } = e;
        if (kind === "recovery-failed") {
          this.unrecoverable.add(String(e.channel));
          this.dropChannel(String(e.channel), "missed publications could not be recovered");
        } else if (kind === "error") {
          // A stream gap: the client resubscribes from its position.
          this.emit({ ...rest, push: "unsubscribed" });
          this.channels.delete(String(e.channel));
        } else if (kind) {
          this.emit({ ...rest, push: kind });
        }
      }
      positions?.forEach((p, i) => {
        const c = this.channels.get(list[i]!.name);
        if (c && c.replyTo === undefined) c.position = p;
      });
      this.emit({ push: "ping" });
    }
  }
}

/** The long-poll transport (`GET /poll` + `POST /sse/publish`) as a {@link TransportFactory}. */
export function pollTransport(options: PollTransportOptions = {}): TransportFactory {
  return (url, handlers) => new PollTransport(url, handlers, options);
}
