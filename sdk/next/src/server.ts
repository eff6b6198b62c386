import {
  asRecord,
  asRecords,
  ClientErrorCode,
  decodeHistory,
  decodeMembers,
  decodeReadPositions,
  decodeUnreadChannels,
  HeraldError,
  type ChannelReadPositions,
  type HistoryOptions,
  type HistoryResult,
  type Member,
  type UnreadChannel,
  type WireObject,
} from "@herald/client";

export interface HeraldServerOptions {
  /** `http://127.0.0.1:7700` (a `ws://` URL is mapped to http). */
  url: string;
  /** The API key (`Authorization: Bearer …`); optional against a loopback dev server. */
  apiKey?: string;
  /** Custom fetch (defaults to the global one). */
  fetch?: typeof fetch;
  /** Per-request timeout, ms. Default 10 000. */
  timeoutMs?: number;
}

export interface ServerPublishResult {
  channel: string;
  epoch: string;
  offset: number;
}

export interface BroadcastResult {
  channel: string;
  epoch?: string;
  offset?: number;
  error?: HeraldError;
}

export interface ChannelInfo {
  channel: string;
  subscribers: number;
  presence: number;
  epoch?: string;
  offset?: number;
}

export interface UserUnread {
  channels: UnreadChannel[];
  /** Unread notifications. */
  notifications: number;
}

export interface NotifyInput<D = unknown> {
  /** Required. */
  title: string;
  /** Default `"notification"`. */
  kind?: string;
  body?: string;
  data?: D;
  /** A retry with the same key and content creates nothing (same key, other content: error 119). */
  dedupeKey?: string;
  /** ms since the Unix epoch. */
  expiresAt?: number;
}

export interface NotifyResult {
  user: string;
  id: number;
  createdAt: number;
  /** `false` when `dedupeKey` matched an existing notification. */
  created: boolean;
}

/** `{channel, subscribers, presence, epoch?, offset?}` (`GET /api/channels[/{channel}]`). */
function decodeChannelInfo(raw: WireObject): ChannelInfo {
  const info: ChannelInfo = {
    channel: String(raw.channel),
    subscribers: Number(raw.subscribers ?? 0),
    presence: Number(raw.presence ?? 0),
  };
  if (typeof raw.epoch === "string") info.epoch = raw.epoch;
  if (typeof raw.offset === "number") info.offset = raw.offset;
  return info;
}

/**
 * Herald's HTTP API for app back ends (Route Handlers, Server Actions):
 * publish, broadcast, history, presence, channel info, disconnect users.
 * Errors throw `HeraldError` with the server's code, message and `temporary`.
 *
 * Not to be confused with `@herald/client`'s `Herald`, the real-time
 * connection a browser (or a Node process) holds: this one only makes HTTP
 * requests, with the API key, and never runs in a browser.
 */
export class HeraldServer {
  private readonly base: string;
  private readonly opts: HeraldServerOptions;

  constructor(options: HeraldServerOptions) {
    this.opts = options;
    this.base = options.url.replace(/^ws(s?):\/\//, "http$1://").replace(/\/ws\/?$/, "").replace(/\/$/, "");
  }

  /** Publishes `data` to `channel`. With an idempotency key, a retry within 5 minutes publishes nothing new. */
  async publish<T>(channel: string, data: T, options: { idempotencyKey?: string } = {}): Promise<ServerPublishResult> {
    const body: WireObject = { channel, data };
    if (options.idempotencyKey !== undefined) body.idempotency_key = options.idempotencyKey;
    const r = await this.call("POST", "/api/publish", body);
    return { channel: String(r.channel), epoch: String(r.epoch), offset: Number(r.offset) };
  }

  /** The same data to several channels (1–100); each succeeds or fails on its own. */
  async broadcast<T>(channels: string[], data: T): Promise<BroadcastResult[]> {
    const r = await this.call("POST", "/api/broadcast", { channels, data });
    return asRecords(r.results).map((x) => {
      const out: BroadcastResult = { channel: String(x.channel) };
      if (x.error !== undefined) out.error = HeraldError.fromWire(x.error);
      else {
        out.epoch = String(x.epoch);
        out.offset = Number(x.offset);
      }
      return out;
    });
  }

  /** A page of history (`direction: "backward", limit: 50` for the last 50, newest first). */
  async history<T = unknown>(channel: string, options: HistoryOptions = {}): Promise<HistoryResult<T>> {
    const q = new URLSearchParams();
    if (options.limit !== undefined) q.set("limit", String(options.limit));
    if (options.direction !== undefined) q.set("direction", options.direction);
    if (options.since !== undefined) q.set("since", String(options.since));
    if (options.before !== undefined) q.set("before", String(options.before));
    const qs = q.toString();
    return decodeHistory<T>(channel, await this.call("GET", `/api/history/${encodeURIComponent(channel)}${qs ? `?${qs}` : ""}`));
  }

  /** Presence members of a channel (namespaces with presence). */
  async presence<I = unknown>(channel: string): Promise<Member<I>[]> {
    return decodeMembers<I>(await this.call("GET", `/api/presence/${encodeURIComponent(channel)}`));
  }

  /** A channel's subscribers, presence count and top position. */
  async channel(name: string): Promise<ChannelInfo> {
    return decodeChannelInfo(await this.call("GET", `/api/channels/${encodeURIComponent(name)}`));
  }

  /** Channels with subscribers on this node, optionally by prefix. */
  async channels(prefix?: string): Promise<ChannelInfo[]> {
    const r = await this.call("GET", `/api/channels${prefix ? `?prefix=${encodeURIComponent(prefix)}` : ""}`);
    return asRecords(r.channels).map(decodeChannelInfo);
  }

  /** Puts a notification in the users' inboxes and pushes it to their connections (all or nothing). */
  async notify<D = unknown>(users: string | string[], input: NotifyInput<D>): Promise<NotifyResult[]> {
    const body: WireObject = Array.isArray(users) ? { users } : { user: users };
    body.title = input.title;
    if (input.kind !== undefined) body.kind = input.kind;
    if (input.body !== undefined) body.body = input.body;
    if (input.data !== undefined) body.data = input.data;
    if (input.dedupeKey !== undefined) body.dedupe_key = input.dedupeKey;
    if (input.expiresAt !== undefined) body.expires_at = input.expiresAt;
    const r = await this.call("POST", "/api/notifications", body);
    return asRecords(r.notifications).map((n) => ({ user: String(n.user), id: Number(n.id), createdAt: Number(n.created_at), created: n.created === true }));
  }

  /** Read positions of a channel's users ("seen by"); pass `members` to `useReadReceipts({ initial })`. */
  async readPositions(channel: string): Promise<ChannelReadPositions> {
    return decodeReadPositions(channel, await this.call("GET", `/api/read/${encodeURIComponent(channel)}`));
  }

  /** A user's unread counts per channel and unread notifications. */
  async unread(user: string): Promise<UserUnread> {
    const r = await this.call("GET", `/api/users/${encodeURIComponent(user)}/unread`);
    return { channels: decodeUnreadChannels(r.channels), notifications: Number(r.notifications ?? 0) };
  }

  /** Closes every connection of `user` (close code 4005). Returns how many. */
  async disconnectUser(user: string): Promise<number> {
    const r = await this.call("POST", "/api/disconnect", { user });
    return Number(r.disconnected ?? 0);
  }

  private async call(method: "GET" | "POST", path: string, body?: WireObject): Promise<WireObject> {
    const f = this.opts.fetch ?? fetch;
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["content-type"] = "application/json";
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    let res: Response;
    try {
      res = await f(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
        cache: "no-store",
      });
    } catch (e) {
      throw new HeraldError(ClientErrorCode.Transport, `${method} ${path}: ${e instanceof Error ? e.message : String(e)}`, true);
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new HeraldError(ClientErrorCode.BadResponse, `${method} ${path}: HTTP ${res.status} without a JSON body`, res.status >= 500);
    }
    const obj = asRecord(json);
    if (!res.ok || obj.error !== undefined) {
      if (obj.error !== undefined) throw HeraldError.fromWire(obj.error);
      throw new HeraldError(ClientErrorCode.BadResponse, `${method} ${path}: HTTP ${res.status}`, res.status >= 500);
    }
    return obj;
  }
}

/**
 * @deprecated Renamed `HeraldServer` (so it is not confused with
 * `@herald/client`'s `Herald`); this alias goes in the next release.
 */
export const Herald = HeraldServer;
/** @deprecated Renamed `HeraldServer`; this alias goes in the next release. */
export type Herald = HeraldServer;
