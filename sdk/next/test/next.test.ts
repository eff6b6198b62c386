import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTokenHandler, HeraldError, HeraldServer, mintToken, type TokenPayload } from "@herald/next";
import { Herald as HeraldClient } from "@herald/client";
import { startHerald, type HeraldProcess } from "../../test-support/herald.js";

function verifyHs256(token: string, secret: string): TokenPayload {
  const [h, p, s] = token.split(".");
  const expected = createHmac("sha256", secret).update(`${h}.${p}`).digest("base64url");
  if (s !== expected) throw new Error("bad signature");
  expect(JSON.parse(Buffer.from(h, "base64url").toString())).toEqual({ alg: "HS256", typ: "JWT" });
  return JSON.parse(Buffer.from(p, "base64url").toString()) as TokenPayload;
}

describe("createTokenHandler", () => {
  it("mints an HS256 JWT with sub, iat, exp, info and capabilities", async () => {
    const handler = createTokenHandler({
      secret: "s3cret",
      ttlSeconds: 120,
      claims: async (req) => ({
        sub: new URL(req.url).searchParams.get("u") ?? "anon",
        info: { name: "Ada" },
        capabilities: [{ channels: ["chat:*", "room:7"], allow: ["subscribe", "publish", "presence", "history"] }],
      }),
    });
    const before = Math.floor(Date.now() / 1000);
    const res = await handler(new Request("http://app.test/api/herald-token?u=u42"));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { token, expiresAt } = (await res.json()) as { token: string; expiresAt: number };
    const claims = verifyHs256(token, "s3cret");
    expect(claims.sub).toBe("u42");
    expect(claims.info).toEqual({ name: "Ada" });
    expect(claims.capabilities).toEqual([{ channels: ["chat:*", "room:7"], allow: ["subscribe", "publish", "presence", "history"] }]);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.exp - claims.iat).toBe(120);
    expect(expiresAt).toBe(claims.exp);
    expect(() => verifyHs256(token, "other")).toThrow();
  });

  it("refuses with 401 when claims returns null", async () => {
    const res = await createTokenHandler({ secret: "x", claims: () => null })(new Request("http://app.test/t"));
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(101);
  });

  it("mintToken matches a known HS256 vector", () => {
    const t = mintToken("k", { sub: "u" }, { now: 1000, ttlSeconds: 60 });
    const [h, p] = t.split(".");
    expect(Buffer.from(p, "base64url").toString()).toBe('{"sub":"u","iat":1000,"exp":1060}');
    expect(t.split(".")[2]).toBe(createHmac("sha256", "k").update(`${h}.${p}`).digest("base64url"));
  });
});

describe("HeraldServer (HTTP API client)", () => {
  let server: HeraldProcess;
  beforeAll(async () => {
    server = await startHerald({ bin: inject("heraldBin"), apiKey: "test-key" });
  });
  afterAll(async () => {
    await server.stop("SIGTERM");
  });

  it("publishes, broadcasts and reads history, presence and channel info", async () => {
    const h = new HeraldServer({ url: server.httpUrl, apiKey: "test-key" });
    const a = await h.publish("chat:srv", { text: "one" }, { idempotencyKey: "srv-1" });
    const again = await h.publish("chat:srv", { text: "one" }, { idempotencyKey: "srv-1" });
    expect(again.offset).toBe(a.offset);
    await h.publish("chat:srv", { text: "two" });
    const hist = await h.history<{ text: string }>("chat:srv", { direction: "backward", limit: 10 });
    expect(hist.publications.map((p) => p.data.text)).toEqual(["two", "one"]);
    expect(hist.offset).toBe(2);

    const b = await h.broadcast(["chat:b1", "chat:b2"], { k: 1 });
    expect(b).toEqual([
      { channel: "chat:b1", epoch: expect.any(String), offset: 1 },
      { channel: "chat:b2", epoch: expect.any(String), offset: 1 },
    ]);
    const bad = await h.broadcast(["chat:b1", "bad name"], { k: 1 }).catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: 109, temporary: false });

    const ws = new HeraldClient({ url: server.wsUrl });
    await ws.channel("room:srv").subscribe();
    const members = await h.presence("room:srv");
    expect(members).toHaveLength(1);
    const info = await h.channel("room:srv");
    expect(info.subscribers).toBe(1);
    expect((await h.channels("room:")).map((c) => c.channel)).toContain("room:srv");
    ws.close();
  });

  it("throws HeraldError with code, message and temporary", async () => {
    const h = new HeraldServer({ url: server.httpUrl, apiKey: "test-key" });
    const e1 = await h.presence("chat:nopresence").catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(HeraldError);
    expect(e1).toMatchObject({ code: 103, temporary: false });
    const e2 = await new HeraldServer({ url: server.httpUrl, apiKey: "wrong" }).publish("chat:x", 1).catch((e: unknown) => e);
    expect(e2).toMatchObject({ code: 101 });
  });

  it("disconnectUser answers how many connections it closed", async () => {
    const h = new HeraldServer({ url: server.httpUrl, apiKey: "test-key" });
    // Without token auth on the server every connection is anonymous, so no user matches.
    expect(await h.disconnectUser("nobody")).toBe(0);
  });
});
