import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import { Herald, webSocketTransport, type Publication, type SubscribedEvent, type TransportFactory } from "@herald/client";
import { api, startHerald, until, type HeraldProcess } from "../../test-support/herald.js";

let server: HeraldProcess | undefined;
const clients: Herald[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop("SIGTERM");
});

describe("reconnect and recovery across a server restart", () => {
  it("recovers what was published meanwhile, and says recovered:false when it cannot", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "herald-sdk-data-"));
    server = await startHerald({ bin: inject("heraldBin"), dataDir });
    // The real WebSocket transport behind a gate: reconnect attempts wait until the
    // publications made while the client was away are in, so recovery (not live
    // delivery) must bring them, however slow the machine is.
    let gate: Promise<void> = Promise.resolve();
    let openGate = () => {};
    const ws = webSocketTransport(NodeWebSocket);
    const transport: TransportFactory = async (url, handlers) => {
      await gate;
      return ws(url, handlers);
    };
    const c = new Herald({ url: server.wsUrl, transport, reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    clients.push(c);

    const feed = c.channel<{ n: number }>("feed:restart");
    const small = c.channel<{ n: number }>("small:restart");
    const feedPubs: Publication<{ n: number }>[] = [];
    const feedSubs: SubscribedEvent[] = [];
    const smallSubs: SubscribedEvent[] = [];
    feed.on("publication", (p) => feedPubs.push(p));
    feed.on("subscribed", (e) => feedSubs.push(e));
    small.on("subscribed", (e) => smallSubs.push(e));
    await feed.subscribe();
    await small.subscribe();
    await c.publish("feed:restart", { n: 1 });
    await c.publish("small:restart", { n: 1 });
    await until(() => feedPubs.length === 1, 5000, "first publication");

    const states: string[] = [];
    c.on("state", (s) => states.push(s));
    gate = new Promise((r) => (openGate = r));
    await server.restart(); // SIGKILL, then the same port and data dir
    for (let n = 2; n <= 4; n++) await api(server.httpUrl, "/api/publish", { channel: "feed:restart", data: { n } });
    for (let n = 2; n <= 21; n++) await api(server.httpUrl, "/api/publish", { channel: "small:restart", data: { n } });

    await until(() => states.includes("reconnecting"), 5000, "reconnecting");
    expect(feedPubs).toHaveLength(1);
    openGate();
    await until(() => feedSubs.length === 2 && smallSubs.length === 2, 15_000, "resubscribed");
    expect(states).toContain("reconnecting");
    expect(c.state).toBe("connected");
    expect(feedSubs[1]).toMatchObject({ recovered: true, resubscribed: true, offset: 4 });
    expect(feedPubs.map((p) => p.data.n)).toEqual([1, 2, 3, 4]);
    expect(smallSubs[1]).toMatchObject({ recovered: false, resubscribed: true, offset: 21 });

    // Live again after recovery.
    await api(server.httpUrl, "/api/publish", { channel: "feed:restart", data: { n: 5 } });
    await until(() => feedPubs.length === 5, 5000, "live publication after recovery");
    expect(feed.position?.offset).toBe(5);

    // History lost (data dir wiped): a new epoch, so recovery is refused, not partial.
    const oldEpoch = feed.position?.epoch;
    gate = new Promise((r) => (openGate = r));
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    mkdirSync(dataDir);
    await server.restart();
    await api(server.httpUrl, "/api/publish", { channel: "feed:restart", data: { n: 100 } });
    openGate();
    await until(() => feedSubs.length === 3, 15_000, "resubscribed after wipe");
    expect(feedSubs[2].recovered).toBe(false);
    expect(feedSubs[2].epoch).not.toBe(oldEpoch);
    expect(feedPubs).toHaveLength(5); // nothing replayed from the new history
  });
});
