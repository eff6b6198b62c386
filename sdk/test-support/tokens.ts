/** A Herald in token mode for tests that need signed-in users (read receipts, notifications). */
import { afterAll, afterEach, beforeAll, inject } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import { Herald, type HeraldOptions } from "@herald/client";
import { HeraldServer, mintToken, type Capability } from "@herald/next";
import { startHerald, type HeraldProcess, type StartOptions } from "./herald.js";

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

export function startTokenHerald(opts: StartOptions = {}): Promise<HeraldProcess> {
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

export interface TokenSuite {
  /** The token-mode server (set in beforeAll). */
  readonly server: HeraldProcess;
  /** `@herald/next`'s HTTP API client with the API key. */
  readonly admin: HeraldServer;
  /** A client signed in as `user` (closed after each test). */
  as(user: string, opts?: Partial<HeraldOptions>): Herald;
}

/** Starts a token-mode server for the file (beforeAll/afterAll) and closes its clients after each test. */
export function tokenSuite(): TokenSuite {
  let server: HeraldProcess | undefined;
  let admin: HeraldServer | undefined;
  const clients: Herald[] = [];
  beforeAll(async () => {
    server = await startTokenHerald({ bin: inject("heraldBin") });
    admin = new HeraldServer({ url: server.httpUrl, apiKey: TEST_API_KEY });
  });
  afterAll(async () => {
    await server?.stop("SIGTERM");
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  const need = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error("tokenSuite: used before beforeAll");
    return v;
  };
  return {
    get server() {
      return need(server);
    },
    get admin() {
      return need(admin);
    },
    as(user, opts = {}) {
      const c = new Herald({ url: need(server).wsUrl, token: tokenFor(user), WebSocket: NodeWebSocket, ...opts });
      clients.push(c);
      return c;
    },
  };
}
