export { Herald } from "./client.js";
export type { HeraldOptions, ClientEvents, ConnectedEvent, ReconnectingEvent } from "./client.js";
export { Channel } from "./channel.js";
export type { ChannelEvents } from "./channel.js";
export { HeraldError, ClientErrorCode, ErrorCode, CloseCode, isTerminalCloseCode } from "./errors.js";
export { backoffDelay, backoffCeiling, DEFAULT_BACKOFF } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { webSocketTransport } from "./transport.js";
export type { Transport, TransportFactory, TransportHandlers, WebSocketConstructor, WebSocketLike } from "./transport.js";
export { createOptimisticList } from "./optimistic.js";
export type { OptimisticItem, OptimisticList, OptimisticListOptions, OptimisticStatus } from "./optimistic.js";
export type {
  ChannelStatus,
  ConnectionState,
  HistoryOptions,
  HistoryResult,
  Member,
  Position,
  Publication,
  Publisher,
  PublishOptions,
  PublishResult,
  SubscribedEvent,
} from "./types.js";
