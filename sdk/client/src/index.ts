export { Herald } from "./client.js";
export type { HeraldOptions, ClientEvents, ConnectedEvent, ReconnectingEvent } from "./client.js";
export { Channel } from "./channel.js";
export { Inbox } from "./inbox.js";
export type { InboxEvents } from "./inbox.js";
export { Documents } from "./documents.js";
export type { DocumentEvents, DocumentMessageEvent, OpenDocumentResult } from "./documents.js";
export type { ChannelEvents, ChannelOptions } from "./channel.js";
export { DecryptError, fetchKeyProvider, isEncryptedEnvelope, ENVELOPE_VERSION } from "./encryption.js";
export type { PusherEncryptionOptions, PusherEvent } from "./pusher-interop.js";
export type { ChannelEncryptionOptions, ChannelKey, ChannelKeysResponse, DecryptErrorEvent, DecryptFailure, EncryptedEnvelope } from "./encryption.js";
export { HeraldError, ClientErrorCode, ErrorCode, CloseCode, isTerminalCloseCode } from "./errors.js";
export { backoffDelay, backoffCeiling, DEFAULT_BACKOFF } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { webSocketTransport } from "./transport.js";
export { sseTransport } from "./sse-transport.js";
export { pollTransport } from "./poll-transport.js";
export type { PollTransportOptions } from "./poll-transport.js";
export type { SseTransportOptions } from "./sse-transport.js";
export { fallbackTransport } from "./fallback.js";
export type { FallbackOptions, NamedTransport } from "./fallback.js";
export type { Transport, TransportFactory, TransportHandlers, WebSocketConstructor, WebSocketLike } from "./transport.js";
export { createOptimisticList } from "./optimistic.js";
export { decodeChange, rowMatches } from "./changes.js";
export type { ChangeColumn, ChangeData, ChangeEvent, ChangeFilter, ChangeType, Row } from "./changes.js";
// For Herald's own packages (`@herald/next`, `@herald/yjs`) and other SDK authors: the one
// event emitter and the one decoder of the wire shapes. The client uses them itself, so
// exporting them adds nothing to an app's bundle.
export { Emitter } from "./emitter.js";
export type { Listener } from "./emitter.js";
export {
  asRecord,
  asRecords,
  decodeHistory,
  decodeMember,
  decodeMembers,
  decodeNotification,
  decodePublication,
  decodeReadPositions,
  decodeUnreadChannels,
} from "./wire.js";
export type { WireObject } from "./wire.js";
export type { OptimisticItem, OptimisticList, OptimisticListOptions, OptimisticStatus } from "./optimistic.js";
export type {
  ChannelStatus,
  ConnectionState,
  HistoryOptions,
  HistoryResult,
  Member,
  Notification,
  NotificationEvent,
  NotificationsOptions,
  NotificationsPage,
  Position,
  Publication,
  Publisher,
  PublishOptions,
  PublishResult,
  ReadPosition,
  ChannelReadPositions,
  SubscribedEvent,
  TypingEvent,
  UnreadChannel,
} from "./types.js";
