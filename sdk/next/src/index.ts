export { createTokenHandler, mintToken } from "./token.js";
export type { Capability, MintOptions, Right, TokenClaims, TokenHandlerOptions, TokenPayload, TokenResponse } from "./token.js";
export { Herald } from "./server.js";
export type {
  BroadcastResult,
  ChannelInfo,
  ChannelReadPositions,
  HeraldServerOptions,
  NotifyInput,
  NotifyResult,
  ServerPublishResult,
  UserUnread,
} from "./server.js";
export { HeraldError, ClientErrorCode, ErrorCode } from "@herald/client";
export type { HistoryOptions, HistoryResult, Member, Publication } from "@herald/client";
