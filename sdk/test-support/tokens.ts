/** A Herald in token mode for tests that need signed-in users (read receipts, notifications). */
import { mintToken, type Capability } from "@herald/next";
import { startHerald, type HeraldServer, type StartOptions } from "./herald.js";

export const TEST_SECRET = "sdk-test-secret-0123456789abcdef";
export const TEST_API_KEY = "sdk-test-key";
export const ALL: Capability[] = [{ channels: ["*"], allow: ["subscribe", "publish", "presence", "history"] }];

/** Presence in `room:`, short typing timeout, tokens signed with TEST_SECRET, API key TEST_API_KEY. */
export const TOKEN_CONFIG = `
[namespaces.room]
presence = true
presence_grace_ms = 200
typing_throttle_ms = 100
typing_timeout_ms = 600
`;

export function startTokenHerald(opts: StartOptions = {}): Promise<HeraldServer> {
  return startHerald({
    config: TOKEN_CONFIG,
    apiKey: TEST_API_KEY,
    ...opts,
    extraArgs: ["--token-secret", TEST_SECRET, ...(opts.extraArgs ?? [])],
  });
}

/** A token for `sub` with every right on every channel (or `capabilities`). */
export function tokenFor(sub: string, capabilities: Capability[] = ALL, ttlSeconds = 600, info?: unknown): string {
  return mintToken(TEST_SECRET, info === undefined ? { sub, capabilities } : { sub, capabilities, info }, { ttlSeconds });
}
