import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { Herald, type Publication, type SubscribedEvent } from "@herald/client";
import { api, startHerald, until, type HeraldServer } from "../../test-support/herald.js";

let server: HeraldServer | undefined;
const clients: Herald[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop("SIGTERM");
});

describe("reconnect and recovery across a server restart", () => {
  it("recovers what was published meanwhile, and says recovered:false when it cannot", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "herald-sdk-data-"));
    server = await startHerald({ bin: inject("heraldBin"), dataDir });
    // A fixed 1.5 s back-off so the restart and the HTTP publishes happen before the client is back.
    const c = new Herald({ url: server.wsUrl, reconnect: { minDelayMs: 1500, maxDelayMs: 1500, random: () => 0.999 } });
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
    await server.restart(); // SIGKILL, then the same port and data dir
    for (let n = 2; n <= 4; n++) await api(server.httpUrl, "/api/publish", { channel: "feed:restart", data: { n } });
    for (let n = 2; n <= 21; n++) await api(server.httpUrl, "/api/publish", { channel: "small:restart", data: { n } });

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
  });
});
