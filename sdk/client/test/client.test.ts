import { afterEach, describe, expect, inject, it } from "vitest";
import { ClientErrorCode, Herald, HeraldError, type Member, type Publication } from "@herald/client";
import { api, until } from "../../test-support/herald.js";

const wsUrl = inject("heraldWsUrl");
const httpUrl = inject("heraldHttpUrl");
const clients: Herald[] = [];
function client(opts: Partial<ConstructorParameters<typeof Herald>[0]> = {}): Herald {
  const c = new Herald({ url: wsUrl, ...opts });
  clients.push(c);
  return c;
}
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});
const uniq = (ns: string) => `${ns}:t-${Math.random().toString(36).slice(2, 10)}`;

interface Chat {
  text: string;
}

describe("@herald/client against a running herald", () => {
  it("publishes and receives across two clients, in order", async () => {
    const name = uniq("chat");
    const a = client();
    const b = client();
    const got: Publication<Chat>[] = [];
    const chB = b.channel<Chat>(name);
    chB.on("publication", (p) => got.push(p));
    const sub = await chB.subscribe();
    expect(sub.recovered).toBeNull();
    expect(b.state).toBe("connected");

    const r1 = await a.channel<Chat>(name).publish({ text: "one" });
    const r2 = await a.publish(name, { text: "two" });
    expect(r2.offset).toBe(r1.offset + 1);
    await until(() => got.length === 2, 5000, "2 publications");
    expect(got.map((p) => p.data.text)).toEqual(["one", "two"]);
    expect(got[0].offset).toBe(r1.offset);
    expect(got[0].epoch).toBe(r1.epoch);
    expect(got[0].idempotencyKey).toBe(r1.idempotencyKey);
    expect(typeof got[0].time).toBe("number");
  });

  it("reads history forward and backward", async () => {
    const name = uniq("chat");
    const c = client();
    for (let i = 1; i <= 5; i++) await c.publish(name, { text: `m${i}` });
    const ch = c.channel<Chat>(name);
    const fwd = await ch.history({ since: 2 });
    expect(fwd.publications.map((p) => p.data.text)).toEqual(["m3", "m4", "m5"]);
    expect(fwd.offset).toBe(5);
    const back = await ch.history({ direction: "backward", limit: 2 });
    expect(back.publications.map((p) => p.offset)).toEqual([5, 4]);
  });

  it("tracks presence with join/leave events", async () => {
    const name = uniq("room");
    const a = client();
    const b = client();
    const chA = a.channel(name);
    await chA.subscribe();
    const joined: Member[] = [];
    const left: Member[] = [];
    chA.on("join", (m) => joined.push(m));
    chA.on("leave", (m) => left.push(m));
    await b.channel(name).subscribe();
    await until(() => joined.length === 1, 5000, "join");
    const members = await chA.presence();
    expect(members.map((m) => m.client).sort()).toEqual([a.connectionId, b.connectionId].sort());
    await b.channel(name).unsubscribe();
    await until(() => left.length === 1, 5000, "leave");
    expect(left[0].client).toBe(b.connectionId);
  });

  it("presence in a namespace without it is refused with a HeraldError", async () => {
    const c = client();
    const err = await c.channel(uniq("chat")).presence().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeraldError);
    expect((err as HeraldError).code).toBe(103);
    expect((err as HeraldError).temporary).toBe(false);
  });

  it("a publish retried with the same idempotency key is stored once", async () => {
    const name = uniq("chat");
    const c = client();
    const first = await c.publish(name, { text: "once" }, { idempotencyKey: "k-1" });
    const again = await c.publish(name, { text: "once" }, { idempotencyKey: "k-1" });
    expect(again.offset).toBe(first.offset);
    const h = await c.channel(name).history();
    expect(h.publications).toHaveLength(1);
    // Automatic keys differ per publish.
    const x = await c.publish(name, { text: "a" });
    const y = await c.publish(name, { text: "a" });
    expect(x.idempotencyKey).not.toBe(y.idempotencyKey);
    expect(y.offset).toBe(x.offset + 1);
  });

  it("rejects refused publishes with code, message and temporary", async () => {
    const c = client();
    const err = await c.publish("bad channel name", { text: "x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeraldError);
    expect((err as HeraldError).code).toBe(109);
    expect((err as HeraldError).message).toMatch(/channel/);
    expect((err as HeraldError).temporary).toBe(false);
  });

  it("one connection multiplexes channels; close() ends it and fails pending work", async () => {
    const c = client();
    await c.channel(uniq("chat")).subscribe();
    await c.channel(uniq("chat")).subscribe();
    const id = c.connectionId;
    expect(id).toBeTruthy();
    const info = await api<{ channels: { channel: string; subscribers: number }[] }>(httpUrl, "/api/channels?prefix=chat:t-");
    expect(info.channels.length).toBeGreaterThanOrEqual(2);
    const states: string[] = [];
    c.on("state", (s) => states.push(s));
    c.close();
    expect(c.state).toBe("closed");
    const err = await c.publish(uniq("chat"), 1).catch((e: unknown) => e);
    expect((err as HeraldError).code).toBe(ClientErrorCode.Closed);
  });
});
