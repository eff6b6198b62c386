import type { ChannelInternals, Herald } from "./client.js";
import { Emitter } from "./emitter.js";
import {
  ChannelCipher,
  DecryptError,
  type ChannelEncryptionOptions,
  type DecryptErrorEvent,
  type PayloadCipher,
} from "./encryption.js";
import { PusherCipher, type PusherEncryptionOptions } from "./pusher-interop.js";
import { ClientErrorCode, HeraldError } from "./errors.js";
import { changeFilterFields, decodeChange, type ChangeEvent, type ChangeFilter, type Row } from "./changes.js";
import { decodeHistory, decodeMember, decodeMembers, decodePublication, decodeReadPositions } from "./wire.js";
import type {
  ChannelStatus,
  HistoryOptions,
  HistoryResult,
  Member,
  Position,
  Publication,
  PublishOptions,
  PublishResult,
  ReadPosition,
  ChannelReadPositions,
  SubscribedEvent,
  TypingEvent,
} from "./types.js";

export interface ChannelEvents<T> {
  /** A publication (live, or replayed by a recovery), in offset order, never twice. */
  publication: Publication<T>;
  /** The subscription is live (first time, or again after a reconnect: see `recovered`). */
  subscribed: SubscribedEvent;
  /** The subscription ended (by `unsubscribe()`, a disconnect, or the server). */
  unsubscribed: { channel: string; error?: HeraldError };
  /** A member's first connection joined (presence namespaces). */
  join: Member;
  /** A member's last connection left. */
  leave: Member;
  /** The subscription failed for good (e.g. permission denied). */
  error: HeraldError;
  /** Status changes. */
  status: ChannelStatus;
  /** A member set its presence state (`setPresenceState`); `member.state` is the new state. */
  presence_update: Member;
  /** Another user started or stopped typing. */
  typing: TypingEvent;
  /** A user's read position moved ("seen by"), yours included. */
  read: ReadPosition;
  /**
   * Encrypted channels: a publication (live, replayed or from `history()`)
   * could not be opened (unknown key id, failed authentication, not an
   * envelope). It is dropped, never delivered as plaintext.
   */
  decrypt_error: DecryptErrorEvent;
  /** A database change (channels `db:schema.table`, docs/changes.md), also emitted as `publication`. */
  change: ChangeEvent<T extends { table: string; new: infer N } ? (NonNullable<N> extends Row ? NonNullable<N> : Row) : Row>;
}

/** Options of `herald.channel(name, options)`. */
export interface ChannelOptions extends ChangeFilter {
  /** End-to-end encryption of `data` (docs/encryption.md). */
  encryption?: ChannelEncryptionOptions;
  /**
   * Read and write a Pusher `private-encrypted-` channel through Herald's
   * Pusher door (NaCl secretbox, as pusher-js): publish `{event, data}`,
   * receive `{event, data}` with `data` decrypted.
   */
  pusher?: PusherEncryptionOptions;
  /**
   * Where the first subscribe starts: publications after this position are
   * replayed before live ones (`recovered` tells whether all of them could be).
   * With a position read before a query, closes the gap between the query
   * and the subscription (`useTable`). Ignored once the channel has a position.
   */
  since?: Position;
}

/**
 * One channel of a {@link Herald} client. `T` is the type of its
 * publications' `data`. Get it with `herald.channel<T>(name)`.
 */
export class Channel<T = unknown> {
  readonly name: string;
  private readonly client: Herald;
  private readonly internals: ChannelInternals;
  private readonly events = new Emitter<ChannelEvents<T>>();
  private _status: ChannelStatus = "unsubscribed";
  private _position: Position | undefined;
  private wanted = false;
  private subscribedOnce = false;
  /** Pushes that arrive while a subscribe is in flight. */
  private buffered: Record<string, unknown>[] | undefined;
  private waiters: { resolve: (e: SubscribedEvent) => void; reject: (e: HeraldError) => void }[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The presence state set by `setPresenceState`, sent again after every resubscribe. */
  private presenceState: { value: unknown } | undefined;
  /** Encrypted channels: seals publishes, opens publications. */
  private cipher: PayloadCipher | undefined;
  private encryptionOptions: ChannelEncryptionOptions | PusherEncryptionOptions | undefined;
  /** Opening is asynchronous: publications are emitted through this chain, in offset order. */
  private opening: Promise<void> = Promise.resolve();
  /** Change channels: the `filter`/`events` fields of every subscribe frame. */
  private changeFields: Record<string, string> = {};

  /** @internal use `herald.channel(name)` */
  constructor(client: Herald, name: string, internals: ChannelInternals) {
    this.client = client;
    this.name = name;
    this.internals = internals;
  }

  /** Whether `data` is end-to-end encrypted on this channel. */
  get encrypted(): boolean {
    return this.cipher !== undefined;
  }

  get status(): ChannelStatus {
    return this._status;
  }

  /** The last position processed (kept across reconnects for recovery). */
  get position(): Position | undefined {
    return this._position;
  }

  on<K extends keyof ChannelEvents<T>>(event: K, listener: (payload: ChannelEvents<T>[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof ChannelEvents<T>>(event: K, listener: (payload: ChannelEvents<T>[K]) => void): void {
    this.events.off(event, listener);
  }

  /**
   * Subscribes (connecting if needed). Resolves once the subscription is
   * live; after reconnects the client resubscribes by itself, recovering
   * from the last position.
   */
  subscribe(): Promise<SubscribedEvent> {
    if (this.client.state === "closed") return Promise.reject(new HeraldError(ClientErrorCode.Closed, "client closed", false));
    const p = new Promise<SubscribedEvent>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this._status === "subscribed") {
      const pos = this._position;
      this.settle({
        channel: this.name,
        epoch: pos?.epoch ?? "",
        offset: pos?.offset ?? 0,
        recovered: null,
        resubscribed: false,
      });
      return p;
    }
    const already = this.wanted;
    this.wanted = true;
    this.internals.ensureConnected();
    if (!already && this.internals.isConnected() && this._status === "unsubscribed") void this.doSubscribe();
    return p;
  }

  /** Stops receiving publications. The position is kept, so a later subscribe() recovers. */
  async unsubscribe(): Promise<void> {
    this.wanted = false;
    this.clearRetry();
    const wasSubscribed = this._status === "subscribed";
    this.setStatus("unsubscribed");
    this.rejectWaiters(new HeraldError(ClientErrorCode.Closed, "unsubscribed", false));
    if (wasSubscribed && this.internals.isConnected()) {
      this.events.emit("unsubscribed", { channel: this.name });
      try {
        await this.internals.session({ op: "unsubscribe", channel: this.name });
      } catch {
        /* not subscribed any more either way */
      }
    }
  }

  /** Publishes to this channel (see {@link Herald.publish}). */
  publish(data: T, options?: PublishOptions): Promise<PublishResult> {
    return this.client.publish(this.name, data, options);
  }

  /** Reads history (no subscription needed). */
  async history(options: HistoryOptions = {}): Promise<HistoryResult<T>> {
    const frame: { op: string } & Record<string, unknown> = { op: "history", channel: this.name };
    if (options.limit !== undefined) frame.limit = options.limit;
    if (options.direction !== undefined) frame.direction = options.direction;
    if (options.since !== undefined) frame.since = options.since;
    if (options.before !== undefined) frame.before = options.before;
    const page = decodeHistory<T>(this.name, await this.internals.request(frame));
    if (!this.cipher) return page;
    // One after another, so `decrypt_error` events come in offset order.
    const opened: Publication<T>[] = [];
    for (const p of page.publications) {
      const o = await this.open(p);
      if (o) opened.push(o);
    }
    return { ...page, publications: opened };
  }

  /** The channel's presence members (namespaces with `presence = true`). */
  async presence<I = unknown>(): Promise<Member<I>[]> {
    return decodeMembers<I>(await this.internals.request({ op: "presence", channel: this.name }));
  }

  /**
   * Tells the channel's other subscribers that you are typing (push
   * `typing`); the server ends it after a few seconds of silence or when you
   * publish. Call it on keystrokes, throttled (the server's default throttle
   * is 1 s; client events are rate limited). Only sent while subscribed and
   * connected (never queued): resolves `false` when nothing was sent.
   */
  async notifyTyping(): Promise<boolean> {
    if (this._status !== "subscribed" || !this.internals.isConnected()) return false;
    await this.internals.session({ op: "typing", channel: this.name });
    return true;
  }

  /**
   * Stores your read position (the last offset you have read); it only moves
   * forward, so the reply carries your current mark. Subscribers get a `read`
   * event. Needs a signed-in user (a token with `sub`).
   */
  async markRead(offset: number): Promise<{ channel: string; offset: number }> {
    const r = await this.internals.request({ op: "mark_read", channel: this.name, offset });
    return { channel: this.name, offset: Number(r.offset) };
  }

  /**
   * Every user's read position in this channel ("seen by"), for the initial
   * view; `read` events keep it current. Needs the subscribe right.
   */
  async readPositions(): Promise<ChannelReadPositions> {
    return decodeReadPositions(this.name, await this.internals.request({ op: "read_positions", channel: this.name }));
  }

  /**
   * Sets your presence state (any JSON value, e.g. `{ status: "idle" }`),
   * shared by all your tabs; others get a `presence_update`. Kept by the
   * client and sent again after every resubscribe. Needs a presence
   * namespace; sent once the channel is subscribed.
   */
  async setPresenceState(state: unknown): Promise<void> {
    this.presenceState = { value: state };
    if (this._status !== "subscribed") return;
    await this.internals.request({ op: "presence_state", channel: this.name, state });
  }

  // ---- called by the client ----

  /** @internal The options of `herald.channel(name, options)` that shape the subscription (applied from the next subscribe). */
  _setSubscription(options: ChannelOptions): void {
    if (options.filter !== undefined || options.events !== undefined) this.changeFields = changeFilterFields(options);
    if (options.since && !this._position) this._position = { ...options.since };
  }

  /** @internal Turns on end-to-end encryption (`herald.channel(name, { encryption | pusher })`); the same options object is a no-op. */
  _setEncryption(options: ChannelOptions): void {
    const chosen = options.encryption ?? options.pusher;
    if (!chosen || chosen === this.encryptionOptions) return;
    this.cipher = options.encryption ? new ChannelCipher(this.name, options.encryption) : new PusherCipher(this.name, chosen as PusherEncryptionOptions);
    this.encryptionOptions = chosen;
  }

  /** @internal The channel's cipher (the client seals publishes with it). */
  get _cipher(): PayloadCipher | undefined {
    return this.cipher;
  }

  /** @internal */
  _onConnected(): void {
    if (this.wanted) void this.doSubscribe();
  }

  /** @internal */
  _onDisconnected(): void {
    this.clearRetry();
    this.buffered = undefined;
    if (this._status !== "unsubscribed") {
      this.setStatus("unsubscribed");
      this.events.emit("unsubscribed", { channel: this.name });
    }
  }

  /** @internal The connection stopped for good: pending subscribe() calls fail (the channel resubscribes if connect() is called). */
  _fail(err: HeraldError): void {
    this.rejectWaiters(err);
  }

  /** @internal */
  _destroy(): void {
    this.wanted = false;
    this.clearRetry();
    this.rejectWaiters(new HeraldError(ClientErrorCode.Closed, "client closed", false));
    this.events.removeAll();
  }

  /** @internal */
  _onPush(kind: string, msg: Record<string, unknown>): void {
    if (this._status === "subscribing" && (kind === "publication" || kind === "unsubscribed")) {
      (this.buffered ??= []).push(msg);
      return;
    }
    this.handlePush(kind, msg);
  }

  private handlePush(kind: string, msg: Record<string, unknown>): void {
    switch (kind) {
      case "publication": {
        if (this._status !== "subscribed" || !this._position) return;
        const offset = Number(msg.offset);
        if (offset <= this._position.offset) return; // already seen (recovery overlap)
        this._position = { epoch: this._position.epoch, offset };
        this.deliver(decodePublication<T>(this.name, this._position.epoch, msg));
        return;
      }
      case "join":
        this.events.emit("join", decodeMember(msg.member));
        return;
      case "leave":
        this.events.emit("leave", decodeMember(msg.member));
        return;
      case "presence_update":
        this.events.emit("presence_update", decodeMember(msg.member));
        return;
      case "typing":
        this.events.emit("typing", { channel: this.name, user: String(msg.user ?? ""), typing: msg.typing === true });
        return;
      case "read":
        this.events.emit("read", { user: String(msg.user ?? ""), offset: Number(msg.offset) });
        return;
      case "unsubscribed": {
        const error = HeraldError.fromWire(msg.error);
        this.setStatus("unsubscribed");
        this.events.emit("unsubscribed", { channel: this.name, error });
        if (error.temporary && this.wanted) {
          void this.doSubscribe();
        } else {
          this.wanted = false;
          this.events.emit("error", error);
        }
        return;
      }
    }
  }

  private async doSubscribe(): Promise<void> {
    this.clearRetry();
    this.setStatus("subscribing");
    this.buffered = [];
    const since = this._position;
    const frame: { op: string } & Record<string, unknown> = { op: "subscribe", channel: this.name, ...this.changeFields };
    if (since) frame.since = since;
    let r: Record<string, unknown>;
    try {
      r = await this.internals.session(frame);
    } catch (e) {
      const err = e instanceof HeraldError ? e : new HeraldError(ClientErrorCode.BadResponse, String(e), true);
      this.buffered = undefined;
      if (err.code === ClientErrorCode.Disconnected) return; // resubscribed on reconnect
      this.setStatus("unsubscribed");
      if (err.temporary && this.wanted) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          if (this.wanted && this.internals.isConnected()) void this.doSubscribe();
        }, 1000);
        return;
      }
      this.wanted = false;
      this.events.emit("error", err);
      this.rejectWaiters(err);
      return;
    }
    if (!this.wanted) {
      this.setStatus("unsubscribed");
      this.buffered = undefined;
      if (this.internals.isConnected()) {
        this.internals.session({ op: "unsubscribe", channel: this.name }).catch(() => {});
      }
      return;
    }
    const epoch = String(r.epoch);
    const recovered = since ? r.recovered === true && since.epoch === epoch : null;
    // Replayed publications first (recovery), then anything pushed meanwhile.
    this._position = since && recovered ? since : { epoch, offset: Number(r.offset) };
    this.setStatus("subscribed");
    const replay = Array.isArray(r.publications) ? (r.publications as Record<string, unknown>[]) : [];
    if (recovered) {
      for (const p of replay) this.handlePush("publication", p);
    }
    this._position = { epoch, offset: Math.max(this._position.offset, Number(r.offset)) };
    const event: SubscribedEvent = {
      channel: this.name,
      epoch,
      offset: Number(r.offset),
      recovered,
      resubscribed: this.subscribedOnce,
    };
    this.subscribedOnce = true;
    this.events.emit("subscribed", event);
    this.settle(event);
    if (this.presenceState !== undefined) {
      this.internals.session({ op: "presence_state", channel: this.name, state: this.presenceState.value }).catch(() => {});
    }
    const pending = this.buffered ?? [];
    this.buffered = undefined;
    for (const m of pending) this.handlePush(String(m.push), m);
  }

  /** Emits a publication; on an encrypted channel once opened (in order), or a `decrypt_error`. */
  private deliver(p: Publication<T>): void {
    if (!this.cipher) {
      this.events.emit("publication", p);
      const change = decodeChange(p);
      if (change) this.events.emit("change", change as ChannelEvents<T>["change"]);
      return;
    }
    this.opening = this.opening.then(async () => {
      const opened = await this.open(p);
      if (opened) this.events.emit("publication", opened);
    });
  }

  /** `p` with its data decrypted, or `undefined` after emitting `decrypt_error`. */
  private async open(p: Publication<T>): Promise<Publication<T> | undefined> {
    if (!this.cipher) return p;
    try {
      return { ...p, data: (await this.cipher.open(p.data)) as T };
    } catch (e) {
      const error = e instanceof DecryptError ? e : new DecryptError("malformed", String(e));
      const event: DecryptErrorEvent = { channel: this.name, offset: p.offset, reason: error.reason, error };
      if (error.kid !== undefined) event.kid = error.kid;
      this.events.emit("decrypt_error", event);
      return undefined;
    }
  }

  private settle(e: SubscribedEvent): void {
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.resolve(e);
  }

  private rejectWaiters(err: HeraldError): void {
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.reject(err);
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private setStatus(s: ChannelStatus): void {
    if (this._status === s) return;
    this._status = s;
    this.events.emit("status", s);
  }
}
