// Server-side settings, read from the environment at request time.
// Defaults match `herald serve` (127.0.0.1:7700, API open on loopback).

/** Herald's address as the Next.js server reaches it (HTTP API). */
export function heraldUrl(): string {
  return process.env.HERALD_URL ?? "http://127.0.0.1:7700";
}

/** Herald's address as browsers reach it (WebSocket and SSE). Defaults to HERALD_URL. */
export function heraldPublicUrl(): string {
  return process.env.HERALD_PUBLIC_URL ?? heraldUrl();
}

/**
 * The HS256 secret shared with Herald (`HERALD_TOKEN_SECRET` for both).
 * The default is for local development only; `demo.sh` starts Herald with it.
 */
export function tokenSecret(): string {
  return process.env.HERALD_TOKEN_SECRET ?? "herald-dev-secret";
}

/** Herald's HTTP API key (`HERALD_API_KEY`); unset = the loopback-only dev API. */
export function apiKey(): string | undefined {
  return process.env.HERALD_API_KEY || undefined;
}
