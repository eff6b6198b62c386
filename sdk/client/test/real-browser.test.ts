/**
 * The SSE fallback in a real browser (Debian's Chromium through
 * playwright-core): the page is served from one origin and Herald sits
 * behind a proxy on another that refuses WebSocket upgrades, so the client
 * must fall back to SSE with cross-origin fetch streaming, CORS preflights
 * for `POST /sse/publish`, and `Last-Event-ID` resumes.
 */
import { readFileSync, existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import { Herald } from "@herald/client";
import { until } from "../../test-support/herald.js";
import { startProxy, type TestProxy } from "../../test-support/proxy.js";

/** The browser `scripts/test.sh` uses too: `$CHROMIUM`, else Debian's. */
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
// Without a browser this file is skipped on a developer's machine, with a note; under CI it fails.
const skip = !haveChromium && process.env.CI !== "true";
if (skip) console.warn(`[real-browser] skipped: no Chromium at ${CHROMIUM} (set $CHROMIUM; under CI=true this fails)`);
const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "index.js");
const wsUrl = inject("heraldWsUrl");

let browser: Browser;
let proxy: TestProxy;
let page: Server;
let pageUrl = "";

const html = `<!doctype html><meta charset="utf-8"><title>herald</title><script type="module">
import { Herald } from "/client.js";
window.Herald = Herald;
window.ready = true;
</script>`;

describe.skipIf(skip)("in Chromium", () => {
  beforeAll(async () => {
    if (!haveChromium) throw new Error(`no Chromium at ${CHROMIUM}: install it or set $CHROMIUM (CI=true: a browser test may not be skipped)`);
    proxy = await startProxy(Number(new URL(wsUrl).port), { blockUpgrades: true });
    page = createServer((req, res) => {
      if (req.url === "/client.js") {
        res.writeHead(200, { "content-type": "text/javascript" });
        res.end(readFileSync(dist));
      } else {
        res.writeHead(200, { "content-type": "text/html" });
        res.end(html);
      }
    });
    await new Promise<void>((r) => page.listen(0, "127.0.0.1", r));
    const addr = page.address();
    pageUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    // Set only when beforeAll got that far (a failed setup must fail fast, not hang here).
    if (page) await new Promise<void>((r) => page.close(() => r()));
  });

  it("falls back to SSE across origins, publishes and receives, and recovers after a drop", async () => {
    const tab = await browser.newPage();
    tab.on("pageerror", (e) => console.log("[browser error]", e.message));
    await tab.goto(pageUrl);
    await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    const channel = `chat:browser-${Math.random().toString(36).slice(2, 8)}`;
    const direct = new Herald({ url: wsUrl, WebSocket: NodeWebSocket, transports: ["websocket"] });
    try {
      const started = await tab.evaluate(
        async ({ url, channel }) => {
          const w = window as unknown as { Herald: typeof Herald; got: number[]; herald: Herald };
          w.got = [];
          w.herald = new w.Herald({ url, reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
          const ch = w.herald.channel<{ n: number }>(channel);
          ch.on("publication", (p) => w.got.push(p.data.n));
          await ch.subscribe();
          const r = await ch.publish({ n: 1 });
          return { transport: w.herald.transportName, offset: r.offset };
        },
        { url: proxy.wsUrl, channel },
      );
      expect(started).toEqual({ transport: "sse", offset: 1 });
      const got = () => tab.evaluate(() => (window as unknown as { got: number[] }).got);
      await direct.publish(channel, { n: 2 });
      await until(async () => (await got()).length === 2, 5000, "received in the browser");

      // The network drops; what is published meanwhile is recovered over SSE.
      proxy.refuseAll = true;
      proxy.dropAll();
      await until(async () => (await tab.evaluate(() => (window as unknown as { herald: Herald }).herald.state)) === "reconnecting", 5000, "drop noticed");
      await direct.publish(channel, { n: 3 });
      proxy.refuseAll = false;
      await until(async () => (await got()).length === 3, 10_000, "recovered in the browser");
      expect(await got()).toEqual([1, 2, 3]);
      expect(proxy.seen).toContain("upgrade /ws");
    } finally {
      direct.close();
      await tab.evaluate(() => (window as unknown as { herald?: Herald }).herald?.close());
      await tab.close();
    }
  });
});
