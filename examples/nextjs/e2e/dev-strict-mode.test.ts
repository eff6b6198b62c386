// Under `next dev`, React Strict Mode mounts every effect twice. The app
// must still open one Herald socket per browser, and render without
// hydration warnings (the dev build reports them in the console).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HeraldProcess, NextProcess, freePort, sleep, waitFor } from "../scripts/stack.mjs";
import { ARTIFACTS_DIR, CHROMIUM, CHROMIUM_ARGS } from "./harness";

const dataDir = mkdtempSync(join(tmpdir(), "herald-nextjs-dev-"));
const secret = `dev-secret-${process.pid}`;
let herald: HeraldProcess;
let next: NextProcess;
let browser: Browser;

beforeAll(async () => {
  herald = new HeraldProcess({ port: await freePort(), dataDir, secret, log: join(ARTIFACTS_DIR, "herald-dev.log") });
  await herald.start();
  next = new NextProcess({
    mode: "dev",
    port: await freePort(),
    heraldUrl: herald.url,
    secret,
    log: join(ARTIFACTS_DIR, "next-dev.log"),
    extraEnv: { DASHBOARD_PRODUCER: "off" },
  });
  await next.start();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await next?.stop();
  await herald?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

it("one socket per browser under Strict Mode (next dev), no hydration warnings", async () => {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" || /hydrat|did not match/i.test(m.text())) problems.push(`${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  let open = 0;
  let max = 0;
  // A socket to the y-websocket door (/yjs) is counted apart: the editor must not open one (it uses the client's).
  const doc = { open: 0, max: 0 };
  page.on("websocket", (ws) => {
    if (!ws.url().startsWith(herald.url.replace(/^http/, "ws"))) return; // not Next's HMR socket
    const c = ws.url().includes("/yjs/") ? doc : null;
    if (c) {
      c.open++;
      c.max = Math.max(c.max, c.open);
      ws.on("close", () => c.open--);
      return;
    }
    open++;
    max = Math.max(max, open);
    ws.on("close", () => open--);
  });

  await page.goto(`${next.url}/`, { timeout: 120_000 });
  await page.fill("#name", "Dev");
  await page.click("button[type=submit]");
  await page.waitForURL("**/chat/general", { timeout: 120_000 });
  await waitFor(
    "myself in the online list",
    async () => (await page.locator("[data-testid=online-users] .online-name").allInnerTexts()).includes("Dev"),
    60_000,
  );
  // Client-side navigation keeps the provider, and the socket.
  await page.click("nav >> text=Dashboard");
  await page.waitForURL("**/dashboard", { timeout: 120_000 });
  await page.getByText("Who's viewing").waitFor({ timeout: 60_000 });
  await page.click("nav >> text=Notifications");
  await page.waitForURL("**/notifications", { timeout: 120_000 });
  await page.getByTestId("notification-center").waitFor({ timeout: 60_000 });
  // The editor: its effect runs twice, yet the document rides the one Herald socket (no second one).
  await page.click("nav >> text=Docs");
  await page.waitForURL("**/docs/notes", { timeout: 120_000 });
  await waitFor(
    "the document synced",
    async () => (await page.getByTestId("doc-status").getAttribute("data-state")) === "synced",
    60_000,
  );
  await page.getByTestId("doc-person").filter({ hasText: "Dev" }).waitFor({ timeout: 30_000 });
  await sleep(1500);
  expect(doc).toEqual({ open: 0, max: 0 });
  expect({ open, max }).toEqual({ open: 1, max: 1 });
  await page.click("nav >> text=Chat");
  await page.waitForURL("**/chat/general", { timeout: 120_000 });
  await sleep(1500);
  expect({ open, max }).toEqual({ open: 1, max: 1 });
  expect(doc).toEqual({ open: 0, max: 0 });
  // Leaving the editor closed the document: Herald no longer lists anyone in it.
  await waitFor(
    "nobody in doc:notes",
    async () => ((await (await fetch(`${herald.url}/api/presence/doc:notes`)).json()) as { members: unknown[] }).members.length === 0,
    30_000,
  );
  // Every page loaded afresh (hydrating server HTML): Herald itself sees one connection of this user.
  const connections = async () => {
    const r = await fetch(`${herald.url}/api/presence/online:everyone`);
    const j = (await r.json()) as { members: { user?: string; connections?: number }[] };
    return j.members.find((m) => m.user === "dev")?.connections ?? 0;
  };
  for (const path of ["/dashboard", "/notifications", "/chat/random"]) {
    await page.goto(`${next.url}${path}`, { timeout: 120_000 });
    await page.locator(".topbar .me").waitFor();
    await waitFor(`one connection on ${path}`, async () => (await connections()) === 1, 30_000);
    await sleep(1500);
    expect({ path, connections: await connections() }).toEqual({ path, connections: 1 });
  }
  expect(problems).toEqual([]);
});
