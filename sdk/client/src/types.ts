/** The connection's state. See the README for the transitions. */
export type ConnectionState =
  | "idle" // created, never connected
  | "connecting" // first connection attempt in progress
  | "connected" // connect acknowledged; channels live
  | "reconnecting" // lost the connection; waiting for back-off or reconnecting
  | "offline" // stopped after a terminal error (close code ≥ 4500, unauthorized); call connect() to retry
  | "closed"; // close() was called; the client cannot be reused

/** A position in a channel: the last offset processed within an epoch. */
export interface Position {
  epoch: string;
  offset: number;
}

/** Who published a publication. */
export interface Publisher {
  client: string;
  user?: string;
}

/** A publication in a channel. */
export interface Publication<T = unknown> {
  channel: string;
  epoch: string;
  offset: number;
  /** Server time, ms since the Unix epoch. */
  time: number;
  data: T;
  publisher?: Publisher;
  /** The key the publisher sent (to reconcile optimistic updates). */
  idempotencyKey?: string;
}

/** A presence member (keyed by user; anonymous connections by connection id). */
export interface Member<I = unknown> {
  client: string;
  user?: string;
  info?: I;
  /** Connections this member holds (several tabs = one member). */
  connections?: number;
  /** The member's own state (`setPresenceState`), e.g. `{ status: "idle" }`. */
  state?: unknown;
}

export interface PublishOptions {
  /** Defaults to a fresh `crypto.randomUUID()`: retries of this publish are never duplicated. */
  idempotencyKey?: string;
}

export interface PublishResult {
  epoch: string;
  offset: number;
  idempotencyKey: string;
}

export interface HistoryOptions {
  /** Default 100, capped by the server (1000). */
  limit?: number;
  /** `forward` (default, oldest first, offsets after `since`) or `backward` (newest first, offsets before `before`). */
  direction?: "forward" | "backward";
  since?: number;
  before?: number;
}

export interface HistoryResult<T = unknown> {
  /** The channel's current top position. */
  epoch: string;
  offset: number;
  publications: Publication<T>[];
}

/** Emitted every time a channel's subscription becomes live. */
export interface SubscribedEvent {
  channel: string;
  /** The position the subscription continues from. */
  epoch: string;
  offset: number;
  /**
   * `null` on a first subscribe. After a resubscribe: `true` when every missed
   * publication was delivered, `false` when they could not be (epoch changed,
   * history too short): reload your state (e.g. `history()`).
   */
  recovered: boolean | null;
  /** Whether this is a resubscribe after a reconnect or a temporary server unsubscribe. */
  resubscribed: boolean;
}

export type ChannelStatus = "unsubscribed" | "subscribing" | "subscribed";

/** Someone started or stopped typing in a channel (never your own connections). */
export interface TypingEvent {
  channel: string;
  /** User id (the connection id for anonymous clients). */
  user: string;
  typing: boolean;
}

/** A user's read position in a channel ("seen by"). */
export interface ReadPosition {
  user: string;
  /** The last offset the user has read. */
  offset: number;
}

/** Every user's read position in a channel (`channel.readPositions()`). */
export interface ChannelReadPositions {
  channel: string;
  /** The channel's newest position. */
  epoch: string;
  offset: number;
  /** Most recently updated first; positions from an older epoch are left out. */
  members: (ReadPosition & { /** When the user marked it, ms since the Unix epoch. */ updatedAt: number })[];
}

/** Your unread count in one channel (`herald.unread()`). */
export interface UnreadChannel {
  channel: string;
  /** Publications after your read mark (all of them when the channel's epoch changed). */
  unread: number;
  /** Your read mark (0 after an epoch change). */
  offset: number;
}

/** A notification in the signed-in user's inbox (filled by the app's back end). */
export interface Notification<D = unknown> {
  id: number;
  kind: string;
  title?: string;
  body?: string;
  data?: D;
  /** ms since the Unix epoch. */
  createdAt: number;
  read: boolean;
  /** ms since the Unix epoch, when the notification expires. */
  expiresAt?: number;
}

/** A page of notifications, newest first, with the unread count. */
export interface NotificationsPage<D = unknown> {
  notifications: Notification<D>[];
  unread: number;
}

export interface NotificationsOptions {
  /** Default 50, capped by the server (100). */
  limit?: number;
  /** Only notifications with an id smaller than this (to page back). */
  before?: number;
}

/** A new notification pushed to every connection of its user. */
export interface NotificationEvent<D = unknown> {
  notification: Notification<D>;
  unread: number;
}
