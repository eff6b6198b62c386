/**
 * The one place that reads Herald's JSON shapes into the SDK's types
 * (snake_case on the wire, camelCase here). The native protocol
 * (docs/protocol.md) and the HTTP API (docs/http-api.md) share these
 * shapes, so `@herald/client` and `@herald/next`'s `HeraldServer` both
 * decode with these functions.
 */
import type {
  ChannelReadPositions,
  HistoryResult,
  Member,
  Notification,
  Publication,
  UnreadChannel,
} from "./types.js";

/** A JSON object as read from the wire. */
export type WireObject = Record<string, unknown>;

/** `v` as an object (an empty one when it is not). */
export function asRecord(v: unknown): WireObject {
  return typeof v === "object" && v !== null ? (v as WireObject) : {};
}

/** `v`'s entries as objects (an empty list when `v` is not an array). */
export function asRecords(v: unknown): WireObject[] {
  return Array.isArray(v) ? v.map(asRecord) : [];
}

/** A publication: `{offset, time, data, publisher?{client, user?}, idempotency_key?}` in `channel`'s `epoch`. */
export function decodePublication<T>(channel: string, epoch: string, raw: WireObject): Publication<T> {
  const p: Publication<T> = {
    channel,
    epoch,
    offset: Number(raw.offset),
    time: Number(raw.time),
    data: raw.data as T,
  };
  const publisher = asRecord(raw.publisher);
  if (typeof publisher.client === "string") {
    p.publisher = { client: publisher.client };
    if (typeof publisher.user === "string") p.publisher.user = publisher.user;
  }
  if (typeof raw.idempotency_key === "string") p.idempotencyKey = raw.idempotency_key;
  return p;
}

/** A history page: `{epoch, offset, publications: […]}` (the `history` reply and `GET /api/history`). */
export function decodeHistory<T>(channel: string, raw: WireObject): HistoryResult<T> {
  const epoch = String(raw.epoch);
  return {
    epoch,
    offset: Number(raw.offset),
    publications: asRecords(raw.publications).map((p) => decodePublication<T>(channel, epoch, p)),
  };
}

/** A presence member: `{client, user?, info?, connections?, state?}` (`state: null` means none). */
export function decodeMember<I = unknown>(raw: unknown): Member<I> {
  const m = asRecord(raw);
  const out: Member<I> = { client: String(m.client ?? "") };
  if (typeof m.user === "string") out.user = m.user;
  if (m.info !== undefined) out.info = m.info as I;
  if (typeof m.connections === "number") out.connections = m.connections;
  if (m.state !== undefined && m.state !== null) out.state = m.state;
  return out;
}

/** `{members: […]}` (the `presence` reply and `GET /api/presence`). */
export function decodeMembers<I = unknown>(raw: WireObject): Member<I>[] {
  return (Array.isArray(raw.members) ? raw.members : []).map((m) => decodeMember<I>(m));
}

/** `{channel?, epoch, offset, members: [{user, offset, updated_at}]}` (`read_positions` and `GET /api/read`). */
export function decodeReadPositions(channel: string, raw: WireObject): ChannelReadPositions {
  return {
    channel: typeof raw.channel === "string" ? raw.channel : channel,
    epoch: String(raw.epoch),
    offset: Number(raw.offset),
    members: asRecords(raw.members).map((m) => ({
      user: String(m.user),
      offset: Number(m.offset),
      updatedAt: Number(m.updated_at),
    })),
  };
}

/** `[{channel, unread, offset}]` (the `unread` reply and `GET /api/users/{user}/unread`). */
export function decodeUnreadChannels(raw: unknown): UnreadChannel[] {
  return asRecords(raw).map((c) => ({ channel: String(c.channel), unread: Number(c.unread), offset: Number(c.offset) }));
}

/** `{id, kind, title, body, data, created_at, read, expires_at?}`. */
export function decodeNotification<D = unknown>(raw: unknown): Notification<D> {
  const n = asRecord(raw);
  const out: Notification<D> = {
    id: Number(n.id),
    kind: String(n.kind ?? ""),
    createdAt: Number(n.created_at ?? 0),
    read: n.read === true,
  };
  if (typeof n.title === "string") out.title = n.title;
  if (typeof n.body === "string") out.body = n.body;
  if (n.data !== undefined && n.data !== null) out.data = n.data as D;
  if (typeof n.expires_at === "number") out.expiresAt = n.expires_at;
  return out;
}
