export { createTokenHandler, mintToken } from "./token.js";
export { createChannelKeyHandler, deriveChannelKey, pusherSharedSecret } from "./encryption.js";
export type { ChannelKeyHandlerOptions } from "./encryption.js";
export type { Capability, MintOptions, Right, TokenClaims, TokenHandlerOptions, TokenPayload, TokenResponse } from "./token.js";
// `Herald` is the deprecated old name of `HeraldServer` (kept for one release).
export { HeraldServer, Herald } from "./server.js";
export type {
  BroadcastResult,
  ChannelInfo,
  HeraldServerOptions,
  NotifyInput,
  NotifyResult,
  ServerPublishResult,
  UserUnread,
} from "./server.js";
export { HeraldError, ClientErrorCode, ErrorCode } from "@herald/client";
export type { ChannelKeysResponse, ChannelReadPositions, HistoryOptions, HistoryResult, Member, Publication } from "@herald/client";
