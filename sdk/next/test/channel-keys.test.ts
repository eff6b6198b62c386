import { createHmac, hkdfSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createChannelKeyHandler, deriveChannelKey } from "@herald/next";
import { Herald, type ChannelKeysResponse } from "@herald/client";

const MASTER = "test-master-secret-0123456789abcdef-0123";

describe("@herald/next end-to-end channel keys", () => {
  it("derives HKDF-SHA256 keys: 32 bytes, per channel and key id, the same as node:crypto's hkdf", async () => {
    const k = await deriveChannelKey(MASTER, "secret:case-42", "k1");
    expect(Buffer.from(k, "base64")).toHaveLength(32);
    const expected = Buffer.from(hkdfSync("sha256", MASTER, "herald-e2e/v1", JSON.stringify(["secret:case-42", "k1"]), 32));
    expect(k).toBe(expected.toString("base64"));
    expect(await deriveChannelKey(MASTER, "secret:case-42", "k1")).toBe(k);
    expect(await deriveChannelKey(MASTER, "secret:case-43", "k1")).not.toBe(k);
    expect(await deriveChannelKey(MASTER, "secret:case-42", "k2")).not.toBe(k);
    await expect(deriveChannelKey("short", "c", "k")).rejects.toThrow(/32 bytes/);
    // Not the same as an HMAC of the same inputs (a sanity check that it is HKDF, not a hand-made MAC).
    expect(k).not.toBe(createHmac("sha256", MASTER).update("secret:case-42k1").digest("base64"));
  });

  it("the Route Handler answers authorized users with the current and older keys, refuses the others", async () => {
    const handler = createChannelKeyHandler({
      masterSecret: MASTER,
      kids: ["k2", "k1"],
      authorize: (req, channel) => req.headers.get("x-user") === "ada" && channel.startsWith("secret:"),
    });
    const ok = await handler(new Request("http://app/api/channel-keys?channel=secret:case-42", { headers: { "x-user": "ada" } }));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("no-store");
    const body = (await ok.json()) as ChannelKeysResponse;
    expect(body.current).toBe("k2");
    expect(body.keys.map((k) => k.kid)).toEqual(["k2", "k1"]);
    expect(body.keys[1]?.key).toBe(await deriveChannelKey(MASTER, "secret:case-42", "k1"));
    expect((await handler(new Request("http://app/api/channel-keys?channel=secret:case-42"))).status).toBe(403);
    expect((await handler(new Request("http://app/api/channel-keys", { headers: { "x-user": "ada" } }))).status).toBe(400);

    // The browser side reads the answer: a channel sealed with derived keys round-trips.
    const c = new Herald({ url: "ws://127.0.0.1:9/ws" });
    const ch = c.channel<{ n: number }>("secret:case-42", {
      encryption: { key: { kid: body.current, key: body.keys[0]?.key ?? "" } },
    });
    expect(ch.encrypted).toBe(true);
    c.close();
  });
});
