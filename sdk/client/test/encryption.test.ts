import { afterAll, describe, expect, inject, it } from "vitest";
import {
  createOptimisticList,
  Herald,
  isEncryptedEnvelope,
  type ChannelKey,
  type DecryptErrorEvent,
  type EncryptedEnvelope,
  type Publication,
  type PublishResult,
} from "@herald/client";
import { api, freePort, startHerald, until, type HeraldProcess } from "../../test-support/herald.js";

interface Note {
  text: string;
}

const clients: Herald[] = [];
const servers: HeraldProcess[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop("SIGTERM");
});

const httpUrl = () => inject("heraldHttpUrl");
const client = (url = inject("heraldWsUrl"), extra: Partial<ConstructorParameters<typeof Herald>[0]> = {}) => {
  const c = new Herald({ url, ...extra });
  clients.push(c);
  return c;
};
const uniq = () => `secret:case-${Math.random().toString(36).slice(2, 10)}`;
const newKey = (kid: string): ChannelKey => ({ kid, key: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") });

interface RawHistory {
  publications: { offset: number; data: unknown }[];
}
const rawHistory = async (channel: string) => {
  const r = await fetch(`${httpUrl()}/api/history/${encodeURIComponent(channel)}`);
  const text = await r.text();
  return { text, json: JSON.parse(text) as RawHistory, status: r.status };
};
const historyJson = async (channel: string) => api<RawHistory>(httpUrl(), `/api/history/${encodeURIComponent(channel)}`);

describe("end-to-end encrypted channels", () => {
  it("two clients exchange encrypted messages; a raw subscriber and the HTTP history see only ciphertext", async () => {
    const name = uniq();
    const key = newKey("k1");
    const ada = client().channel<Note>(name, { encryption: { key } });
    const bob = client().channel<Note>(name, { encryption: { key } });
    const raw = client().channel<unknown>(name);
    const atBob: Publication<Note>[] = [];
    const atRaw: Publication<unknown>[] = [];
    bob.on("publication", (p) => atBob.push(p));
    raw.on("publication", (p) => atRaw.push(p));
    await bob.subscribe();
    await raw.subscribe();
    expect(ada.encrypted).toBe(true);
    expect(raw.encrypted).toBe(false);

    await ada.publish({ text: "blood test: negative" });
    await ada.publish({ text: "second note" });
    await until(() => atBob.length === 2 && atRaw.length === 2, 5000, "both publications");
    expect(atBob.map((p) => p.data.text)).toEqual(["blood test: negative", "second note"]);

    for (const p of atRaw) {
      expect(isEncryptedEnvelope(p.data)).toBe(true);
      const env = p.data as EncryptedEnvelope;
      expect(env.kid).toBe("k1");
      expect(Buffer.from(env.iv, "base64")).toHaveLength(12);
    }
    // A fresh nonce per message.
    expect((atRaw[0].data as EncryptedEnvelope).iv).not.toBe((atRaw[1].data as EncryptedEnvelope).iv);
    expect(JSON.stringify(atRaw)).not.toContain("negative");

    const http = await rawHistory(name);
    expect(http.status).toBe(200);
    expect(http.text).not.toContain("negative");
    expect(http.text).not.toContain("second note");
    expect(http.json?.publications).toHaveLength(2);

    // history() through an encrypted channel decrypts.
    const h = await bob.history();
    expect(h.publications.map((p) => p.data.text)).toEqual(["blood test: negative", "second note"]);
  });

  it("recovery replays publications decrypted, in order", async () => {
    const name = uniq();
    const key = newKey("k1");
    const ada = client().channel<Note>(name, { encryption: { key } });
    const bob = client().channel<Note>(name, { encryption: { key } });
    const seen: string[] = [];
    bob.on("publication", (p) => seen.push(p.data.text));
    await bob.subscribe();
    await ada.publish({ text: "one" });
    await until(() => seen.length === 1, 5000, "one");
    await bob.unsubscribe();
    for (const text of ["two", "three", "four"]) await ada.publish({ text });
    const sub = await bob.subscribe();
    expect(sub.recovered).toBe(true);
    await until(() => seen.length === 4, 5000, "recovered publications");
    expect(seen).toEqual(["one", "two", "three", "four"]);
  });

  it("rotation: new messages use the current key, old history stays readable with the old key", async () => {
    const name = uniq();
    const k1 = newKey("k1");
    const k2 = newKey("k2");
    let current = k1;
    const asked: (string | undefined)[] = [];
    const keyProvider = (kid?: string) => {
      asked.push(kid);
      if (kid === undefined) return current;
      return [k1, k2].find((k) => k.kid === kid);
    };
    const writer = client().channel<Note>(name, { encryption: { keyProvider, currentKeyTtlMs: 0 } });
    await writer.publish({ text: "under k1" });
    current = k2;
    await writer.publish({ text: "under k2" });

    const kids = (await historyJson(name)).publications.map((p) => (p.data as EncryptedEnvelope).kid);
    expect(kids).toEqual(["k1", "k2"]);

    // A reader with both keys (fetched by kid) reads everything.
    const reader = client().channel<Note>(name, { encryption: { keyProvider } });
    expect((await reader.history()).publications.map((p) => p.data.text)).toEqual(["under k1", "under k2"]);
    expect(asked).toContain("k1");

    // A reader given only the new key gets a typed error for the old message, never an exception.
    const errors: DecryptErrorEvent[] = [];
    const late = client().channel<Note>(name, { encryption: { key: k2 } });
    late.on("decrypt_error", (e) => errors.push(e));
    const h = await late.history();
    expect(h.publications.map((p) => p.data.text)).toEqual(["under k2"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ channel: name, offset: 1, kid: "k1", reason: "unknown_key" });
    expect(errors[0].error.code).toBe(1008);
  });

  it("a wrong key gives a typed decrypt_error and no publication", async () => {
    const name = uniq();
    const ada = client().channel<Note>(name, { encryption: { key: newKey("k1") } });
    const eve = client().channel<Note>(name, { encryption: { key: newKey("k1") } }); // same kid, other bytes
    const errors: DecryptErrorEvent[] = [];
    const pubs: Publication<Note>[] = [];
    eve.on("decrypt_error", (e) => errors.push(e));
    eve.on("publication", (p) => pubs.push(p));
    await eve.subscribe();
    await ada.publish({ text: "for ada's eyes" });
    await until(() => errors.length === 1, 5000, "decrypt_error");
    expect(errors[0]).toMatchObject({ channel: name, offset: 1, kid: "k1", reason: "authentication" });
    expect(pubs).toEqual([]);
  });

  it("detects tampering: a flipped bit, a message copied to another channel, plaintext on the channel", async () => {
    const name = uniq();
    const other = uniq();
    const key = newKey("k1");
    const ada = client().channel<Note>(name, { encryption: { key } });
    await ada.publish({ text: "original" });
    const env = (await historyJson(name)).publications[0].data as EncryptedEnvelope;

    const ct = Buffer.from(env.ct, "base64");
    ct[3] ^= 0x01;
    await api(httpUrl(), "/api/publish", { channel: name, data: { ...env, ct: ct.toString("base64") } });
    await api(httpUrl(), "/api/publish", { channel: other, data: env });
    await api(httpUrl(), "/api/publish", { channel: name, data: { text: "plaintext by mistake" } });

    const errors: DecryptErrorEvent[] = [];
    const reader = client().channel<Note>(name, { encryption: { key } });
    reader.on("decrypt_error", (e) => errors.push(e));
    const h = await reader.history();
    expect(h.publications.map((p) => p.data.text)).toEqual(["original"]);
    expect(errors.map((e) => [e.offset, e.reason])).toEqual([
      [2, "authentication"],
      [3, "not_encrypted"],
    ]);

    const moved: DecryptErrorEvent[] = [];
    const otherReader = client().channel<Note>(other, { encryption: { key } });
    otherReader.on("decrypt_error", (e) => moved.push(e));
    expect((await otherReader.history()).publications).toEqual([]);
    expect(moved.map((e) => e.reason)).toEqual(["authentication"]);
  });

  it("optimistic publishing shows the plaintext and confirms with the decrypted publication", async () => {
    const name = uniq();
    const key = newKey("k1");
    const ch = client().channel<Note>(name, { encryption: { key } });
    await ch.subscribe();
    const list = createOptimisticList(ch);
    const p = list.publish({ text: "optimistic" });
    expect(list.getSnapshot()).toMatchObject([{ status: "pending", data: { text: "optimistic" } }]);
    await p;
    await until(() => list.getSnapshot()[0]?.publication !== undefined, 5000, "publication");
    expect(list.getSnapshot()).toMatchObject([{ status: "confirmed", data: { text: "optimistic" }, offset: 1 }]);
    list.dispose();
  });

  it("a publish queued while offline is sealed before it is queued and arrives decrypted", async () => {
    const port = await freePort();
    const name = uniq();
    const key = newKey("k1");
    const offline = client(`ws://127.0.0.1:${port}/ws`, { reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    const results: Promise<PublishResult>[] = [];
    const ch = offline.channel<Note>(name, { encryption: { key } });
    for (const text of ["queued 1", "queued 2", "queued 3"]) results.push(ch.publish({ text }));
    await until(() => offline.queuedCount === 3, 5000, "3 queued");

    const server = await startHerald({ bin: inject("heraldBin"), port });
    servers.push(server);
    expect((await Promise.all(results)).map((r) => r.offset)).toEqual([1, 2, 3]);
    const raw = await api<RawHistory>(server.httpUrl, `/api/history/${encodeURIComponent(name)}`);
    expect(raw.publications.every((p) => isEncryptedEnvelope(p.data))).toBe(true);
    expect(JSON.stringify(raw)).not.toContain("queued");
    const reader = client(server.wsUrl).channel<Note>(name, { encryption: { key } });
    expect((await reader.history()).publications.map((p) => p.data.text)).toEqual(["queued 1", "queued 2", "queued 3"]);
  });

  it("an `encrypted = true` namespace refuses plaintext from clients and the HTTP API, and takes envelopes", async () => {
    const server = await startHerald({ bin: inject("heraldBin"), config: "[namespaces.secret]\nencrypted = true\n" });
    servers.push(server);
    const name = uniq();
    const key = newKey("k1");
    const sealed = client(server.wsUrl).channel<Note>(name, { encryption: { key } });
    expect((await sealed.publish({ text: "sealed" })).offset).toBe(1);
    const careless = client(server.wsUrl).channel<Note>(name); // forgot the encryption option
    await expect(careless.publish({ text: "leaked?" })).rejects.toMatchObject({ code: 107 });
    const r = await fetch(`${server.httpUrl}/api/publish`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ channel: name, data: { text: "leaked?" } }),
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/encrypted namespace/);
    const raw = await api<RawHistory>(server.httpUrl, `/api/history/${encodeURIComponent(name)}`);
    expect(raw.publications).toHaveLength(1);
    expect(JSON.stringify(raw)).not.toContain("leaked");
  });

  it("refuses to publish without a current key (the promise rejects; nothing is sent)", async () => {
    const name = uniq();
    const ch = client().channel<Note>(name, { encryption: { keyProvider: () => undefined } });
    await expect(ch.publish({ text: "x" })).rejects.toMatchObject({ code: 1007 });
    const h = await historyJson(name);
    expect(h.publications).toEqual([]);
  });
});
