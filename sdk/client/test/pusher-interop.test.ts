// A native @herald/client channel reads and writes a Pusher `private-encrypted-`
// channel through Herald's Pusher door, against the real pusher-js client and
// the real `pusher` server SDK (which encrypt with NaCl secretbox).
import { createHash, createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import Pusher from "pusher-js";
import PusherServer from "pusher";
import { Herald, type DecryptErrorEvent, type Publication, type PusherEvent } from "@herald/client";
import { startHerald, until, type HeraldProcess } from "../../test-support/herald.js";
import { TEST_SECRET, tokenFor } from "../../test-support/tokens.js";
import { pusherSharedSecret, type Right } from "@herald/next";

const APP = { appId: "app-e2e", key: "key-e2e", secret: "secret-e2e" };
const MASTER_KEY = Buffer.alloc(32, 9);
const CONFIG = `
[pusher]
activity_timeout_secs = 120
[[pusher.apps]]
id = "${APP.appId}"
key = "${APP.key}"
secret = "${APP.secret}"
`;

let server: HeraldProcess;
// A wildcard never opens a private channel: the grant names the prefix.
const PRIVATE_ENCRYPTED = [{ channels: ["pusher:private-encrypted-*"], allow: ["subscribe", "publish", "history"] as Right[] }];
const natives: Herald[] = [];
const pushers: Pusher[] = [];
beforeAll(async () => {
  server = await startHerald({ bin: inject("heraldBin"), config: CONFIG, extraArgs: ["--token-secret", TEST_SECRET] });
});
afterAll(async () => {
  for (const c of natives) c.close();
  for (const p of pushers) p.disconnect();
  await server?.stop("SIGTERM");
});

/** Pusher's shared secret of an encrypted channel: SHA256(channel ‖ master key). */
const sharedSecret = (channel: string) => createHash("sha256").update(Buffer.concat([Buffer.from(channel), MASTER_KEY])).digest();

function pusherClient(): Pusher {
  const p = new Pusher(APP.key, {
    wsHost: "127.0.0.1",
    wsPort: server.port,
    forceTLS: false,
    enabledTransports: ["ws"],
    cluster: "mt1",
    channelAuthorization: {
      endpoint: "unused",
      transport: "ajax",
      customHandler: ({ socketId, channelName }, callback) => {
        const auth = `${APP.key}:${createHmac("sha256", APP.secret).update(`${socketId}:${channelName}`).digest("hex")}`;
        callback(null, { auth, shared_secret: sharedSecret(channelName).toString("base64") });
      },
    },
  });
  pushers.push(p);
  return p;
}

function native(channel: string, secret: Buffer | string = sharedSecret(channel)) {
  const c = new Herald({ url: server.wsUrl, token: tokenFor("nat", PRIVATE_ENCRYPTED) });
  natives.push(c);
  return c.channel<PusherEvent>(`pusher:${channel}`, { pusher: { sharedSecret: typeof secret === "string" ? secret : new Uint8Array(secret) } });
}

const uniq = () => `private-encrypted-vault-${Math.random().toString(36).slice(2, 10)}`;

describe("Pusher encrypted channels from @herald/client", () => {
  it("pusher-js decrypts what a native channel publishes", async () => {
    const name = uniq();
    const p = pusherClient();
    const ch = p.subscribe(name);
    await new Promise<void>((res, rej) => {
      ch.bind("pusher:subscription_succeeded", () => res());
      ch.bind("pusher:subscription_error", (e: unknown) => rej(new Error(JSON.stringify(e))));
    });
    const got: unknown[] = [];
    ch.bind("secret", (d: unknown) => got.push(d));
    await native(name).publish({ event: "secret", data: { code: "x-42", note: "from herald" } });
    await until(() => got.length === 1, 5000, "pusher-js event");
    expect(got[0]).toEqual({ code: "x-42", note: "from herald" });
    // @herald/next derives the same shared secret as the pusher server SDK.
    expect(await pusherSharedSecret(MASTER_KEY.toString("base64"), name)).toBe(sharedSecret(name).toString("base64"));
  });

  it("a native channel decrypts what the pusher server SDK triggers; a wrong secret gets decrypt_error", async () => {
    const name = uniq();
    const reader = native(name);
    const wrong = native(name, Buffer.alloc(32, 1));
    const got: Publication<PusherEvent>[] = [];
    const errors: DecryptErrorEvent[] = [];
    reader.on("publication", (p) => got.push(p));
    wrong.on("publication", () => errors.push({ channel: "unexpected plaintext", reason: "malformed" } as DecryptErrorEvent));
    wrong.on("decrypt_error", (e) => errors.push(e));
    await reader.subscribe();
    await wrong.subscribe();
    const app = new PusherServer({ ...APP, host: "127.0.0.1", port: String(server.port), useTLS: false, encryptionMasterKeyBase64: MASTER_KEY.toString("base64") });
    const r = await app.trigger(name, "secret", { diagnosis: "confidential" });
    expect(r.status).toBe(200);
    await until(() => got.length === 1 && errors.length === 1, 5000, "the event at both");
    expect(got[0].data).toEqual({ event: "secret", data: { diagnosis: "confidential" } });
    expect(errors[0].reason).toBe("authentication");
    // Herald itself holds only {nonce, ciphertext}.
    const h = await fetch(`${server.httpUrl}/api/history/${encodeURIComponent(`pusher:${name}`)}`);
    expect(await h.text()).not.toContain("confidential");
  });
});
