import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import {
  fallbackTransport,
  Herald,
  pollTransport,
  sseTransport,
  webSocketTransport,
  type Publication,
  type SubscribedEvent,
} from "@herald/client";
import { api, startHerald, until, type HeraldProcess } from "../../test-support/herald.js";
import { startProxy, type TestProxy } from "../../test-support/proxy.js";

let server: HeraldProcess;
let proxy: TestProxy;
const clients: Herald[] = [];
const uniq = (ns: string) => `${ns}:s-${Math.random().toString(36).slice(2, 10)}`;

beforeAll(async () => {
  server = await startHerald({ bin: inject("heraldBin") });
});
afterAll(async () => {
  await server.stop("SIGTERM");
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await proxy?.close();
});

function client(url: string, opts: Partial<ConstructorParameters<typeof Herald>[0]> = {}): Herald {
  const c = new Herald({ url, WebSocket: NodeWebSocket, reconnect: { minDelayMs: 50, maxDelayMs: 200 }, ...opts });
  clients.push(c);
  return c;
}

interface Msg {
  n: number;
}

/**
 * Subscribes `c` (behind the proxy) to `name`, checks it is on `transport`, then: receives a
 * publication, publishes one that a direct WebSocket subscriber sees, and adds a second channel
 * (reopening the stream or loop) without losing the first one's place. Offsets 1–3 on `name`.
 */
async function exercise(c: Herald, direct: Herald, name: string, transport: string) {
  const got: Publication<Msg>[] = [];
  const subs: SubscribedEvent[] = [];
  const ch = c.channel<Msg>(name);
  ch.on("publication", (p) => got.push(p));
  ch.on("subscribed", (e) => subs.push(e));
  await ch.subscribe();
  expect(c.state).toBe("connected");
  expect(c.transportName).toBe(transport);

  await direct.publish(name, { n: 1 });
  await until(() => got.length === 1, 5000, `received over ${transport}`);
  const seenDirect: number[] = [];
  const dch = direct.channel<Msg>(name);
  dch.on("publication", (p) => seenDirect.push(p.data.n));
  await dch.subscribe();
  expect((await ch.publish({ n: 2 })).offset).toBe(2);
  await until(() => seenDirect.includes(2) && got.length === 2, 5000, `publish over ${transport} delivered`);
  expect(proxy.seen).toContain("/sse/publish");

  const other = uniq("chat");
  const otherGot: number[] = [];
  c.channel<Msg>(other).on("publication", (p) => otherGot.push(p.data.n));
  await c.channel<Msg>(other).subscribe();
  await direct.publish(name, { n: 3 });
  await direct.publish(other, { n: 100 });
  await until(() => got.length === 3 && otherGot.length === 1, 5000, "both channels live");
  return { ch, got, subs };
}

describe("SSE fallback when WebSockets are blocked", () => {
  it("falls back to SSE, receives and publishes, and recovers after the stream drops", async () => {
    proxy = await startProxy(server.port, { blockUpgrades: true });
    const name = uniq("chat");
    const direct = client(server.wsUrl, { transports: ["websocket"] });
    const c = client(proxy.wsUrl);
    const { got, subs } = await exercise(c, direct, name, "sse");
    expect(proxy.seen).toContain("upgrade /ws");
    expect(proxy.seen).toContain("/sse");

    // The network drops: publications made meanwhile are recovered over SSE.
    proxy.refuseAll = true;
    proxy.dropAll();
    await until(() => c.state === "reconnecting", 5000, "noticed the drop");
    await direct.publish(name, { n: 4 });
    await direct.publish(name, { n: 5 });
    proxy.refuseAll = false;
    await until(() => got.length === 5 && c.state === "connected", 10_000, "recovered over SSE");
    expect(got.map((p) => p.data.n)).toEqual([1, 2, 3, 4, 5]);
    expect(got.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(subs.filter((s) => s.resubscribed).every((s) => s.recovered === true)).toBe(true);
    expect(c.transportName).toBe("sse");
  });

  it("surfaces recovered:false over SSE when the history no longer reaches back", async () => {
    proxy = await startProxy(server.port, { blockUpgrades: true });
    const name = uniq("small"); // history_size = 5
    await api(server.httpUrl, "/api/publish", { channel: name, data: { n: 0 } });
    const c = client(proxy.wsUrl);
    const subs: SubscribedEvent[] = [];
    const ch = c.channel<Msg>(name);
    ch.on("subscribed", (e) => subs.push(e));
    await ch.subscribe();
    expect(c.transportName).toBe("sse");
    const pos = ch.position!;
    // The network goes down while 10 publications overflow the 5-deep history.
    proxy.refuseAll = true;
    proxy.dropAll();
    await until(() => c.state === "reconnecting", 5000, "reconnecting");
    for (let i = 1; i <= 10; i++) await api(server.httpUrl, "/api/publish", { channel: name, data: { n: i } });
    proxy.refuseAll = false;
    await until(() => subs.length === 2, 10_000, "resubscribed");
    expect(subs[1]).toMatchObject({ resubscribed: true, recovered: false, offset: pos.offset + 10 });
    expect(c.transportName).toBe("sse");
  });

  it("answers history over HTTP, refuses what needs a WebSocket with a clear error, and a forbidden channel with the server's code", async () => {
    proxy = await startProxy(server.port, { blockUpgrades: true });
    const c = client(proxy.wsUrl);
    const ch = c.channel(uniq("chat"));
    await ch.subscribe();
    expect(c.transportName).toBe("sse");
    await api(server.httpUrl, "/api/publish", { channel: ch.name, data: "first" });
    const page = await ch.history();
    expect(page.publications.map((p) => p.data)).toEqual(["first"]);
    await expect(ch.notifyTyping()).rejects.toMatchObject({ code: 104, message: expect.stringContaining("needs a WebSocket connection") });
    await expect(c.channel("private-x").subscribe()).rejects.toMatchObject({ code: 103 });
    // The stream still serves the first channel.
    const got: unknown[] = [];
    ch.on("publication", (p) => got.push(p.data));
    await api(server.httpUrl, "/api/publish", { channel: ch.name, data: "still here" });
    await until(() => got.includes("still here"), 5000, "still live");
  });

  it("goes back to the WebSocket once it is no longer blocked", async () => {
    proxy = await startProxy(server.port, { blockUpgrades: true });
    const name = uniq("chat");
    const c = client(proxy.wsUrl, { retryBestTransportAfterMs: 300 });
    const got: number[] = [];
    c.channel<Msg>(name).on("publication", (p) => got.push(p.data.n));
    await c.channel<Msg>(name).subscribe();
    expect(c.transportName).toBe("sse");
    proxy.blockUpgrades = false;
    await until(() => c.transportName === "websocket" && c.state === "connected", 10_000, "back on the WebSocket");
    await api(server.httpUrl, "/api/publish", { channel: name, data: { n: 7 } });
    await until(() => got.includes(7), 5000, "live on the WebSocket");
  });

  it("stays on the WebSocket when the server is simply down (no false fallback)", async () => {
    const s2 = await startHerald({ bin: inject("heraldBin") });
    const c = client(s2.wsUrl);
    await c.channel(uniq("chat")).subscribe();
    expect(c.transportName).toBe("websocket");
    await s2.stop();
    await until(() => c.state === "reconnecting", 5000, "reconnecting");
    await new Promise((r) => setTimeout(r, 500));
    await s2.restart();
    await until(() => c.state === "connected", 10_000, "reconnected");
    expect(c.transportName).toBe("websocket");
    await s2.stop("SIGTERM");
  });
});

describe("long-poll fallback when the event stream does not get through either", () => {
  // SSE gives up on a stream that sends nothing after 500 ms (a proxy buffering it).
  const transport = () =>
    fallbackTransport([
      { name: "websocket", factory: webSocketTransport(NodeWebSocket) },
      { name: "sse", factory: sseTransport({ openTimeoutMs: 500 }) },
      { name: "poll", factory: pollTransport() },
    ]);

  it("falls back to long-polling, receives, publishes, recovers, and surfaces recovered:false", async () => {
    proxy = await startProxy(server.port, { blockUpgrades: true });
    proxy.hangPaths.add("/sse");
    const name = uniq("small"); // history_size = 5
    const direct = client(server.wsUrl, { transports: ["websocket"] });
    const c = client(proxy.wsUrl, { transport: transport() });
    const { got, subs } = await exercise(c, direct, name, "poll");
    expect(proxy.seen).toContain("/sse");

    // Down for a short while: recovered.
    proxy.refuseAll = true;
    proxy.dropAll();
    await until(() => c.state === "reconnecting", 5000, "noticed the drop");
    await direct.publish(name, { n: 4 });
    proxy.refuseAll = false;
    await until(() => got.length === 4 && c.state === "connected", 10_000, "recovered by polling");
    expect(got.map((p) => p.offset)).toEqual([1, 2, 3, 4]);
    expect(subs.filter((s) => s.resubscribed).every((s) => s.recovered === true)).toBe(true);

    // Down while 10 publications overflow the 5-deep history: recovered:false.
    proxy.refuseAll = true;
    proxy.dropAll();
    await until(() => c.state === "reconnecting", 5000, "noticed the second drop");
    for (let i = 5; i <= 14; i++) await direct.publish(name, { n: i });
    proxy.refuseAll = false;
    await until(() => subs.some((s) => s.recovered === false), 10_000, "recovered:false");
    expect(subs[subs.length - 1]).toMatchObject({ recovered: false, offset: 14 });
    expect(c.transportName).toBe("poll");
    await direct.publish(name, { n: 15 });
    await until(() => got.some((p) => p.offset === 15), 5000, "live again after recovered:false");
    expect(got.map((p) => p.offset)).toEqual([1, 2, 3, 4, 15]);
    // History travels over HTTP too: the 5 the channel keeps.
    const page = await c.channel<Msg>(name).history();
    expect(page.publications.map((p) => p.offset)).toEqual([11, 12, 13, 14, 15]);
  });
});
