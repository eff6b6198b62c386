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

/**
 * The master secret the end-to-end channel keys are derived from
 * (`HERALD_E2E_MASTER_SECRET`, at least 32 bytes: `openssl rand -base64 32`).
 * It stays on the Next.js server: Herald never holds it.
 * DEVELOPMENT DEFAULT ONLY: anyone who reads this file can derive the keys.
 */
export function e2eMasterSecret(): string {
  return process.env.HERALD_E2E_MASTER_SECRET ?? "DEV-ONLY-herald-e2e-master-secret-change-me-0000";
}

/**
 * End-to-end key ids, the current one first (`HERALD_E2E_KEY_IDS`, comma
 * separated). Rotate by putting a new id first; older ids stay listed while
 * their history should remain readable.
 */
export function e2eKeyIds(): string[] {
  const ids = (process.env.HERALD_E2E_KEY_IDS ?? "2026-12").split(",").map((s) => s.trim()).filter(Boolean);
  return ids.length > 0 ? ids : ["2026-12"];
}
