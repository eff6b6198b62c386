import { afterAll, describe, expect, inject, it } from "vitest";
import { ClientErrorCode, Herald, HeraldError, type PublishResult } from "@herald/client";
import { freePort, startHerald, type HeraldProcess } from "../../test-support/herald.js";

const servers: HeraldProcess[] = [];
const clients: Herald[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.stop("SIGTERM");
});

describe("outbound queue while disconnected", () => {
  it("holds publishes while the server is down and flushes them in order", async () => {
    const port = await freePort();
    const c = new Herald({ url: `ws://127.0.0.1:${port}/ws`, reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    clients.push(c);
    const results: Promise<PublishResult>[] = [];
    for (let i = 1; i <= 5; i++) results.push(c.publish("chat:queued", { i }));
    expect(c.queuedCount).toBe(5);
    await new Promise((r) => setTimeout(r, 300)); // a few failed attempts
    expect(c.state).toBe("reconnecting");

    const server = await startHerald({ bin: inject("heraldBin"), port });
    servers.push(server);
    const done = await Promise.all(results);
    expect(done.map((r) => r.offset)).toEqual([1, 2, 3, 4, 5]);
    const h = await c.channel<{ i: number }>("chat:queued").history();
    expect(h.publications.map((p) => p.data.i)).toEqual([1, 2, 3, 4, 5]);
    expect(c.queuedCount).toBe(0);
  });

  it("rejects queued messages that time out, and new ones when the queue is full", async () => {
    const port = await freePort();
    const c = new Herald({
      url: `ws://127.0.0.1:${port}/ws`,
      reconnect: { minDelayMs: 50, maxDelayMs: 100 },
      queue: { maxMessages: 2, timeoutMs: 300 },
    });
    clients.push(c);
    const t0 = Date.now();
    const a = c.publish("chat:x", 1).catch((e: unknown) => e);
    const b = c.publish("chat:x", 2).catch((e: unknown) => e);
    const full = await c.publish("chat:x", 3).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(HeraldError);
    expect((full as HeraldError).code).toBe(ClientErrorCode.QueueFull);
    expect((full as HeraldError).message).toMatch(/queue is full/);
    const [ea, eb] = await Promise.all([a, b]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    for (const e of [ea, eb]) {
      expect(e).toBeInstanceOf(HeraldError);
      expect((e as HeraldError).code).toBe(ClientErrorCode.Timeout);
      expect((e as HeraldError).temporary).toBe(true);
    }
    expect(c.queuedCount).toBe(0);
  });
});
