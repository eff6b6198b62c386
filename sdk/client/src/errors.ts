/**
 * Errors as Herald reports them: a stable numeric `code`, a `message` for a
 * person, and `temporary` (whether the same request may succeed later).
 *
 * Server codes (100–118) are listed in docs/protocol.md. Close codes
 * (4000–4999) are reported with the close code as `code`. Errors that the
 * client itself produces use the codes in {@link ClientErrorCode}.
 */
export class HeraldError extends Error {
  readonly code: number;
  readonly temporary: boolean;

  constructor(code: number, message: string, temporary = false) {
    super(message);
    this.name = "HeraldError";
    this.code = code;
    this.temporary = temporary;
  }

  /** Builds an error from the wire shape `{code, message, temporary}`. */
  static fromWire(value: unknown): HeraldError {
    if (typeof value === "object" && value !== null) {
      const v = value as { code?: unknown; message?: unknown; temporary?: unknown };
      if (typeof v.code === "number") {
        return new HeraldError(
          v.code,
          typeof v.message === "string" ? v.message : `error ${v.code}`,
          v.temporary === true,
        );
      }
    }
    return new HeraldError(ClientErrorCode.BadResponse, "malformed error from server", true);
  }
}

/** Codes for errors raised by the SDK itself (never sent by the server). */
export const ClientErrorCode = {
  /** The outbound queue was full while disconnected; the message was not queued. */
  QueueFull: 1001,
  /** No reply within the request timeout (the message may or may not have been applied). */
  Timeout: 1002,
  /** The client was closed with `close()`. */
  Closed: 1003,
  /** The connection dropped while a session request (connect/subscribe) was in flight. */
  Disconnected: 1004,
  /** The transport could not be created or failed. */
  Transport: 1005,
  /** The server answered something the SDK cannot read. */
  BadResponse: 1006,
  /** An encrypted channel could not seal a message (no key, a key of the wrong size, no WebCrypto). */
  Encryption: 1007,
  /** A publication on an encrypted channel could not be opened (see the channel's `decrypt_error` event). */
  Decrypt: 1008,
  /**
   * Collaborative documents (`herald.documents`, `@herald/yjs`) need the
   * WebSocket transport, and the client is on SSE or long-polling (a
   * fallback, e.g. behind a proxy that refuses WebSockets). Temporary: the
   * client tries the WebSocket again (`retryBestTransportAfterMs`), and
   * `HeraldYjsProvider` reopens the document on the next `connected`.
   */
  DocumentsNeedWebSocket: 1009,
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** Server error codes (docs/protocol.md). */
export const ErrorCode = {
  Internal: 100,
  Unauthorized: 101,
  UnknownNamespace: 102,
  PermissionDenied: 103,
  UnknownOperation: 104,
  AlreadySubscribed: 105,
  LimitExceeded: 106,
  BadRequest: 107,
  MalformedJson: 108,
  InvalidChannel: 109,
  MessageTooLarge: 110,
  NotSubscribed: 111,
  TooManyRequests: 112,
  BinaryNotSupported: 113,
  NotConnected: 114,
  AlreadyConnected: 115,
  Unavailable: 116,
  TokenExpired: 117,
  NotFound: 118,
  Conflict: 119,
  InvalidFilter: 120,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes sent by Herald (docs/protocol.md). 4000–4499: reconnect; 4500+: don't. */
export const CloseCode = {
  Normal: 1000,
  Shutdown: 4000,
  SlowConsumer: 4001,
  PingTimeout: 4002,
  ServerError: 4003,
  TokenExpired: 4004,
  Disconnected: 4005,
  TooManyRequests: 4006,
  ConnectTimeout: 4007,
  ProtocolViolation: 4500,
  Unauthorized: 4501,
  Forbidden: 4502,
  MessageTooLarge: 4503,
} as const;

/** Whether a close code means "do not reconnect with the same credentials". */
export function isTerminalCloseCode(code: number): boolean {
  return code >= 4500 && code <= 4999;
}
