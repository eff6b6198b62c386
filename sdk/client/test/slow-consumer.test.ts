import { afterAll, describe, expect, inject, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import { Herald, webSocketTransport, type Publication, type SubscribedEvent } from "@herald/client";
import { api, startHerald, until, type HeraldProcess } from "../../test-support/herald.js";

let server: HeraldProcess | undefined;
const clients: Herald[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await server?.stop("SIGTERM");
});

/** The real `ws` WebSocket, remembering its last instance so the test can stop reading its socket. */
let lastSocket: NodeWebSocket | undefined;
class WatchedWebSocket extends NodeWebSocket {
  constructor(url: string) {
    super(url);
    lastSocket = this;
  }
}

/** The TCP socket under a `ws` WebSocket (to pause reading, as a stalled browser tab would). */
function tcp(ws: NodeWebSocket | undefined): { pause(): void; resume(): void } {
  const s = (ws as unknown as { _socket?: { pause(): void; resume(): void } } | undefined)?._socket;
  if (!s) throw new Error("no socket under the WebSocket");
  return s;
}

async function cuts(httpUrl: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const m = /^herald_slow_consumer_disconnects_total\{door="native"\}\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

describe("a slow consumer cut by the server", () => {
  it("is told 4001, reconnects and recovers every publication in order", async () => {
    server = await startHerald({
      bin: inject("heraldBin"),
      config: "[connection.queue]\nmax_messages = 64\nmax_bytes = 65536\n",
    });
    const c = new Herald({
      url: server.wsUrl,
      transport: webSocketTransport(WatchedWebSocket as unknown as typeof NodeWebSocket),
      reconnect: { minDelayMs: 50, maxDelayMs: 200 },
    });
    clients.push(c);
    const disconnects: number[] = [];
    c.on("disconnected", (e) => disconnects.push(e.code));
    const feed = c.channel<{ n: number; pad: string }>("feed:slow");
    const got: number[] = [];
    const subs: SubscribedEvent[] = [];
    feed.on("publication", (p: Publication<{ n: number; pad: string }>) => got.push(p.data.n));
    feed.on("subscribed", (e) => subs.push(e));
    await feed.subscribe();

    // The client stops reading; publications pile up until the server cuts it.
    tcp(lastSocket).pause();
    const pad = "p".repeat(30_000);
    let n = 0;
    while ((await cuts(server.httpUrl)) === 0) {
      if (n >= 900) throw new Error("no slow consumer cut after 900 publications");
      for (let i = 0; i < 10; i++) await api(server.httpUrl, "/api/publish", { channel: "feed:slow", data: { n: ++n, pad } });
    }
    tcp(lastSocket).resume();

    await until(() => disconnects.length > 0, 10_000, "disconnected");
    expect(disconnects[0]).toBe(4001);
    await until(() => subs.length === 2, 10_000, "resubscribed after the cut");
    expect(subs[1]).toMatchObject({ recovered: true, resubscribed: true });
    await until(() => got.length >= n, 10_000, "every publication");
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i + 1));

    // Live again.
    await api(server.httpUrl, "/api/publish", { channel: "feed:slow", data: { n: n + 1, pad: "" } });
    await until(() => got.length === n + 1, 5000, "live after recovery");
  });
});
