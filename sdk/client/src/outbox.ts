import { ClientErrorCode, HeraldError } from "./errors.js";
import { asRecord } from "./wire.js";

/** One request frame of the native protocol, without its `id`. */
export type Frame = { op: string } & Record<string, unknown>;

/** Writes one text frame on the current transport. */
export type SendText = (text: string) => void;

interface PendingRequest {
  /** Order of submission: requests re-sent after a reconnect keep it. */
  seq: number;
  frame: Frame;
  /** `user` requests survive a reconnect (queued, re-sent); `session` ones fail with the connection. */
  kind: "user" | "session";
  resolve: (result: Record<string, unknown>) => void;
  reject: (err: HeraldError) => void;
  timer?: ReturnType<typeof setTimeout>;
  /** The wire id while in flight on a connection. */
  id?: number;
}

/**
 * The client's requests: those in flight on the current connection, waiting
 * for a reply with their `id`, and those queued while disconnected (the
 * offline queue), bounded by `maxQueue` and each timing out after
 * `timeoutMs`. Requests are re-sent in submission order after a reconnect.
 */
export class Outbox {
  private readonly queue: PendingRequest[] = [];
  private readonly inflight = new Map<number, PendingRequest>();
  private nextId = 1;
  private nextSeq = 1;

  constructor(
    private readonly maxQueue: number,
    private readonly timeoutMs: number,
  ) {}

  /** Requests waiting for a connection. */
  get queuedCount(): number {
    return this.queue.length;
  }

  /**
   * A user request: sent now through `send` when connected, queued
   * otherwise; rejected when the queue is full or the reply does not come
   * within `timeoutMs`.
   */
  user(frame: Frame, send: SendText | undefined): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const req: PendingRequest = { seq: this.nextSeq++, frame, kind: "user", resolve, reject };
      if (send) {
        this.transmit(req, send);
      } else {
        if (this.queue.length >= this.maxQueue) {
          reject(
            new HeraldError(
              ClientErrorCode.QueueFull,
              `${frame.op} dropped: the offline queue is full (${this.maxQueue} messages)`,
              true,
            ),
          );
          return;
        }
        this.queue.push(req);
      }
      req.timer = setTimeout(() => {
        this.forget(req);
        reject(
          new HeraldError(
            ClientErrorCode.Timeout,
            `${frame.op} timed out after ${this.timeoutMs} ms` +
              (req.id === undefined ? " while waiting for a connection" : " waiting for the server's reply") +
              (frame.op === "publish" ? "; retry with the same idempotency key to avoid duplicates" : ""),
            true,
          ),
        );
      }, this.timeoutMs);
    });
  }

  /** A session request (connect/subscribe/unsubscribe): sent now, failed if the connection drops. */
  session(frame: Frame, send: SendText | undefined): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (!send) {
        reject(new HeraldError(ClientErrorCode.Disconnected, "not connected", true));
        return;
      }
      this.transmit({ seq: this.nextSeq++, frame, kind: "session", resolve, reject }, send);
    });
  }

  /** Sends the queued requests, in submission order, on a new connection. */
  flush(send: SendText): void {
    const queued = this.queue.splice(0, this.queue.length).sort((a, b) => a.seq - b.seq);
    for (const req of queued) this.transmit(req, send);
  }

  /** Settles the request a reply (`{id, result}` or `{id, error}`) answers; ignores unknown ids. */
  settle(msg: Record<string, unknown>): void {
    if (typeof msg.id !== "number") return;
    const req = this.inflight.get(msg.id);
    if (!req) return;
    this.inflight.delete(msg.id);
    if (req.timer) clearTimeout(req.timer);
    if (msg.error !== undefined) req.reject(HeraldError.fromWire(msg.error));
    else req.resolve(asRecord(msg.result));
  }

  /**
   * The connection dropped: session requests fail with `lost`; user
   * requests go back to the front of the queue, to be re-sent in order.
   */
  connectionLost(lost: HeraldError): void {
    const requeue: PendingRequest[] = [];
    for (const req of this.inflight.values()) {
      req.id = undefined;
      if (req.kind === "session") req.reject(lost);
      else requeue.push(req);
    }
    this.inflight.clear();
    this.queue.unshift(...requeue.sort((a, b) => a.seq - b.seq));
  }

  /** Rejects every request, queued or in flight, with `err`. */
  failAll(err: HeraldError): void {
    const all = [...this.inflight.values(), ...this.queue];
    this.inflight.clear();
    this.queue.length = 0;
    for (const r of all) {
      if (r.timer) clearTimeout(r.timer);
      r.reject(err);
    }
  }

  private transmit(req: PendingRequest, send: SendText): void {
    const id = this.nextId++;
    req.id = id;
    this.inflight.set(id, req);
    send(JSON.stringify({ id, ...req.frame }));
  }

  private forget(req: PendingRequest): void {
    const i = this.queue.indexOf(req);
    if (i >= 0) this.queue.splice(i, 1);
    if (req.id !== undefined) this.inflight.delete(req.id);
  }
}
