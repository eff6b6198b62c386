import { createHmac } from "node:crypto";

/** A right on the channels of a capability. */
export type Right = "subscribe" | "publish" | "presence" | "history";

/**
 * What a token allows: `channels` are exact names, `"prefix:*"` or `"*"`.
 * A pattern never opens a `private-`, `presence-` or `#server-to-user-` name
 * unless it names that prefix itself (`"private-*"`, `"room:private-*"`).
 */
export interface Capability {
  channels: string[];
  allow: Right[];
}

/** The claims an app grants a user. */
export interface TokenClaims<I = unknown> {
  /** User id. */
  sub: string;
  /** Public profile shown in presence. */
  info?: I;
  capabilities?: Capability[];
}

/** The token's full payload as Herald verifies it. */
export interface TokenPayload<I = unknown> extends TokenClaims<I> {
  iat: number;
  exp: number;
}

export interface MintOptions {
  /** Lifetime, seconds. Default 600. */
  ttlSeconds?: number;
  /** Current time, seconds (for tests). */
  now?: number;
}

const b64url = (buf: Buffer | string) => Buffer.from(buf).toString("base64url");

/** Mints an HS256 JWT `{sub, iat, exp, info?, capabilities?}` signed with `secret`. */
export function mintToken<I = unknown>(secret: string, claims: TokenClaims<I>, options: MintOptions = {}): string {
  if (!secret) throw new Error("mintToken: empty secret");
  if (!claims.sub) throw new Error("mintToken: claims.sub is required");
  const iat = options.now ?? Math.floor(Date.now() / 1000);
  const payload: TokenPayload<I> = { sub: claims.sub, iat, exp: iat + (options.ttlSeconds ?? 600) };
  if (claims.info !== undefined) payload.info = claims.info;
  if (claims.capabilities !== undefined) payload.capabilities = claims.capabilities;
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify(payload));
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

export interface TokenHandlerOptions<I = unknown> {
  /** The HS256 secret Herald is configured with. */
  secret: string;
  /** Who is asking and what they may do; `null` refuses with 401. */
  claims: (req: Request) => Promise<TokenClaims<I> | null> | TokenClaims<I> | null;
  /** Token lifetime, seconds. Default 600. */
  ttlSeconds?: number;
}

/** The JSON body a token handler answers with. */
export interface TokenResponse {
  token: string;
  /** Expiry, seconds since the Unix epoch. */
  expiresAt: number;
}

/**
 * A Route Handler that mints a token for the signed-in user:
 *
 * ```ts
 * // app/api/herald-token/route.ts
 * export const GET = createTokenHandler({ secret: process.env.HERALD_SECRET!, claims: async () => ({ sub: "u42" }) });
 * ```
 */
export function createTokenHandler<I = unknown>(options: TokenHandlerOptions<I>): (req: Request) => Promise<Response> {
  const ttl = options.ttlSeconds ?? 600;
  return async (req) => {
    let claims: TokenClaims<I> | null;
    try {
      claims = await options.claims(req);
    } catch (e) {
      return Response.json(
        { error: { code: 100, message: `claims failed: ${e instanceof Error ? e.message : String(e)}`, temporary: true } },
        { status: 500, headers: { "cache-control": "no-store" } },
      );
    }
    if (!claims) {
      return Response.json(
        { error: { code: 101, message: "not signed in", temporary: false } },
        { status: 401, headers: { "cache-control": "no-store" } },
      );
    }
    const now = Math.floor(Date.now() / 1000);
    const body: TokenResponse = { token: mintToken(options.secret, claims, { ttlSeconds: ttl, now }), expiresAt: now + ttl };
    return Response.json(body, { headers: { "cache-control": "no-store" } });
  };
}
