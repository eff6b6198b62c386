import { createHmac } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import { Herald, type Publication } from "@herald/client";
import { createTokenHandler } from "@herald/next";
import { startHerald, until, type HeraldProcess } from "../../test-support/herald.js";

const SECRET = "e2e-token-secret-0123456789abcdef";
let server: HeraldProcess;
const clients: Herald[] = [];

// The Route Handler exactly as an app exports it (app/api/herald-token/route.ts).
const POST = createTokenHandler({
  secret: SECRET,
  ttlSeconds: 3,
  claims: async (req) => {
    const user = req.headers.get("x-user");
    if (!user) return null;
    return {
      sub: user,
      info: { name: user.toUpperCase() },
      capabilities: [{ channels: ["chat:*"], allow: ["subscribe", "publish", "history"] }],
    };
  },
});

let minted = 0;
async function getToken(user = "ada"): Promise<string> {
  const res = await POST(new Request("http://app.test/api/herald-token", { method: "POST", headers: { "x-user": user } }));
  if (!res.ok) throw new Error(`token handler answered ${res.status}`);
  minted++;
  return ((await res.json()) as { token: string }).token;
}

beforeAll(async () => {
  // No leeway, and the `token_expiring` push 2 s before expiry: a 3 s token must be refreshed to live on.
  server = await startHerald({
    bin: inject("heraldBin"),
    config: "[auth]\nleeway_secs = 0\nrefresh_before_secs = 2\n",
    extraArgs: ["--token-secret", SECRET],
  });
});
afterAll(async () => {
  await server.stop("SIGTERM");
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function client(opts: Partial<ConstructorParameters<typeof Herald>[0]>): Herald {
  const c = new Herald({ url: server.wsUrl, WebSocket: NodeWebSocket, transports: ["websocket"], ...opts });
  clients.push(c);
  return c;
}

describe("tokens from createTokenHandler against herald --token-secret", () => {
  it("are accepted, and the token's capabilities are enforced with the server's codes", async () => {
    const c = client({ getToken: () => getToken() });
    const ch = c.channel<{ text: string }>("chat:e2e");
    await ch.subscribe();
    expect(c.state).toBe("connected");
    expect((await ch.publish({ text: "hi" })).offset).toBe(1);
    // Outside the capabilities: refused, and the connection stays up.
    await expect(c.channel("news:e2e").subscribe()).rejects.toMatchObject({ code: 103, temporary: false });
    await expect(c.publish("news:e2e", { text: "no" })).rejects.toMatchObject({ code: 103 });
    expect(c.state).toBe("connected");
    // A handler that refuses (no user) gives 401 / code 101 before any connection.
    const refused = await POST(new Request("http://app.test/api/herald-token", { method: "POST" }));
    expect(refused.status).toBe(401);
    // A token signed with another secret is refused by the server: the client stops (offline) with 4501.
    const forged = client({ token: getTokenWithSecret("wrong-secret") });
    const err = await forged
      .channel("chat:e2e")
      .subscribe()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 4501 });
    expect(forged.state).toBe("offline");
  });

  it("refreshes the token through getToken() before expiry on the live connection", async () => {
    minted = 0;
    const c = client({ getToken: () => getToken() });
    let refreshed = 0;
    let disconnects = 0;
    c.on("tokenRefreshed", () => refreshed++);
    c.on("disconnected", () => disconnects++);
    const got: Publication<{ n: number }>[] = [];
    const ch = c.channel<{ n: number }>("chat:refresh");
    ch.on("publication", (p) => got.push(p));
    await ch.subscribe();
    const id = c.connectionId;
    // Two refreshes carry the connection past the first token's and the second token's expiry.
    await until(() => refreshed >= 2, 10_000, "two refreshes");
    expect(minted).toBeGreaterThanOrEqual(3);
    await c.publish("chat:refresh", { n: 2 });
    await until(() => got.some((p) => p.data.n === 2), 5000, "live after refreshes");
    expect(disconnects).toBe(0);
    expect(c.connectionId).toBe(id);

    // The control: the same 3 s token without getToken() is cut with 4004 at expiry.
    const fixed = client({ token: await getToken("bob") });
    const codes: number[] = [];
    fixed.on("disconnected", (e) => codes.push(e.code));
    await fixed.channel("chat:refresh").subscribe();
    await until(() => codes.length > 0, 10_000, "expiry close");
    expect(codes[0]).toBe(4004);
    expect(fixed.state).toBe("offline");
  });
});

describe("tokens over the SSE transport", () => {
  it("authenticate the stream and publishes, enforce capabilities, and a fresh token is fetched past expiry", async () => {
    const c = client({ getToken: () => getToken(), transports: ["sse"] });
    const got: number[] = [];
    const ch = c.channel<{ n: number }>("chat:sse-token");
    ch.on("publication", (p) => got.push(p.data.n));
    await ch.subscribe();
    expect(c.transportName).toBe("sse");
    expect((await ch.publish({ n: 1 })).offset).toBe(1);
    await expect(c.channel("news:sse").subscribe()).rejects.toMatchObject({ code: 103 });
    await expect(c.publish("news:sse", { n: 0 })).rejects.toMatchObject({ code: 103 });
    // Past the first 3 s token's expiry the client still publishes and receives, with a new token from getToken().
    // (The stream itself outlives the token; the publish after expiry is refused with 117, and the
    // transport reconnects with a new token and re-sends it with the same idempotency key.)
    const before = minted;
    await new Promise((r) => setTimeout(r, 4500)); // surely past expiry (whole seconds, no leeway)
    expect((await ch.publish({ n: 2 })).offset).toBe(2);
    expect(minted).toBeGreaterThan(before);
    await until(() => got.includes(1) && got.includes(2), 5000, "both received over SSE");
    expect(got.filter((n) => n === 2)).toHaveLength(1);
    // A forged token: the stream is refused with 401 and the client stops (offline, 4501).
    const forged = client({ token: getTokenWithSecret("wrong-secret"), transports: ["sse"] });
    await expect(forged.channel("chat:sse-token").subscribe()).rejects.toMatchObject({ code: 4501 });
    expect(forged.state).toBe("offline");
  });
});

function getTokenWithSecret(secret: string): string {
  const b64 = (s: string) => Buffer.from(s).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const head = b64(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64(JSON.stringify({ sub: "eve", iat: now, exp: now + 60, capabilities: [{ channels: ["*"], allow: ["subscribe"] }] }));
  return `${head}.${body}.${createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url")}`;
}
