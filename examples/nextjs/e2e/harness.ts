// The end-to-end harness: a real herald (killed and restarted by the tests),
// the built app under `next start`, and Debian's chromium via playwright-core.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { EXAMPLE_DIR, HeraldProcess, NextProcess, REPO_DIR, freePort, waitFor } from "../scripts/stack.mjs";
import { startLogicalPg, type LogicalPg } from "./logical-pg";

export { sleep, waitFor } from "../scripts/stack.mjs";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
];

export const IMAGES_DIR = join(REPO_DIR, "docs", "images");
export const ARTIFACTS_DIR = join(EXAMPLE_DIR, "e2e", "artifacts");

/** Console output that means a broken page: hydration mismatches, uncaught errors, React warnings. */
export interface ConsoleProblem {
  user: string;
  text: string;
}

/**
 * A time in which the test deliberately breaks the connection (Herald killed,
 * a browser held offline): console errors of the failing requests are
 * expected then, and only then. `user` limits it to one browser.
 */
interface BreakWindow {
  user?: string;
  /** Whether a console message (its text and the URL it is about) is one of the expected failures. */
  expected(text: string, url: string): boolean;
  /** When the break ended (Date.now()); undefined while it lasts. */
  endedAt?: number;
}

/** How long after a break ends a failure may still be reported (the browser reports asynchronously). */
const LATE_REPORT_MS = 2000;

export interface StackOptions {
  /**
   * Start a throwaway PostgreSQL with `wal_level=logical`: the app gets it as
   * `DATABASE_URL` (the orders page) and Herald as `[changes] url`. Fails
   * when PostgreSQL is not installed.
   */
  database?: boolean;
}

export class Stack {
  constructor(private readonly options: StackOptions = {}) {}
  readonly apiKey = `e2e-key-${process.pid}`;
  readonly secret = `e2e-secret-${process.pid}-${Date.now()}`;
  readonly dataDir = mkdtempSync(join(tmpdir(), "herald-nextjs-e2e-"));
  herald!: HeraldProcess;
  next!: NextProcess;
  browser!: Browser;
  /** The database, with `{ database: true }`. */
  pg: LogicalPg | undefined;
  readonly problems: ConsoleProblem[] = [];
  /** Herald WebSockets per user: open now, and the most open at once. */
  readonly sockets = new Map<string, { open: number; max: number }>();
  private readonly contexts: BrowserContext[] = [];
  private readonly breaks: BreakWindow[] = [];
  private heraldDown: BreakWindow | undefined;
  private readonly offline = new Map<Page, BreakWindow>();
  private readonly users = new Map<Page, string>();

  async start(): Promise<void> {
    rmSync(ARTIFACTS_DIR, { recursive: true, force: true });
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    mkdirSync(IMAGES_DIR, { recursive: true });
    if (this.options.database) this.pg = await startLogicalPg();
    const heraldPort = await freePort();
    this.herald = new HeraldProcess({
      port: heraldPort,
      dataDir: join(this.dataDir, "data"),
      secret: this.secret,
      apiKey: this.apiKey,
      changesUrl: this.pg?.url,
      log: join(ARTIFACTS_DIR, "herald.log"),
    });
    await this.herald.start();
    if (this.pg) await this.changeFeedConnected();
    const next = new NextProcess({
      mode: "start",
      port: await freePort(),
      heraldUrl: this.herald.url,
      secret: this.secret,
      apiKey: this.apiKey,
      databaseUrl: this.pg?.url,
      log: join(ARTIFACTS_DIR, "next.log"),
      // Idle after 3 s without input, so the test can watch the status change.
      extraEnv: { IDLE_AFTER_MS: "3000" },
    });
    await next.start();
    this.next = next;
    this.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }

  async stop(): Promise<void> {
    for (const c of this.contexts) await c.close().catch(() => {});
    await this.browser?.close().catch(() => {});
    await this.next?.stop();
    await this.herald?.stop();
    await this.pg?.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Waits until Herald reads the database's changes (`herald_changes_connected 1` in /metrics). */
  async changeFeedConnected(): Promise<void> {
    await waitFor("Herald's change feed to connect to PostgreSQL", async () => {
      const r = await fetch(`${this.herald.url}/metrics`, { headers: { authorization: `Bearer ${this.apiKey}` } });
      return (await r.text()).includes("herald_changes_connected 1");
    });
  }

  /** A new browser (context) signed in as `name`, on the chat page. */
  async signIn(name: string): Promise<Page> {
    const context = await this.browser.newContext({ viewport: { width: 1280, height: 800 } });
    this.contexts.push(context);
    const page = await context.newPage();
    this.watch(name, page);
    await page.goto(`${this.next.url}/`);
    await page.fill("#name", name);
    await page.click("button[type=submit]");
    await page.waitForURL("**/chat/general");
    return page;
  }

  /** Kills Herald (SIGKILL, a crash): until `restartHerald()`, the browsers failing to reach it is expected. */
  async killHerald(): Promise<void> {
    const herald = this.herald.url.replace(/^http:\/\//, "");
    this.heraldDown = this.openBreak({
      expected: (text, url) => (url.includes(herald) || text.includes(herald)) && /failed|ERR_CONNECTION_REFUSED/i.test(text),
    });
    await this.herald.stop("SIGKILL");
  }

  /** Starts Herald again on the same port and data; from now on a failure to reach it is a problem again. */
  async restartHerald(): Promise<void> {
    await this.herald.start();
    this.closeBreak(this.heraldDown);
    this.heraldDown = undefined;
  }

  /** Holds `page`'s browser offline (or lets it back): its requests failing meanwhile is expected. */
  async setOffline(page: Page, offline: boolean): Promise<void> {
    if (offline) {
      this.offline.set(page, this.openBreak({ user: this.users.get(page), expected: (text) => text.includes("ERR_INTERNET_DISCONNECTED") }));
    }
    await page.context().setOffline(offline);
    if (!offline) {
      this.closeBreak(this.offline.get(page));
      this.offline.delete(page);
    }
  }

  private openBreak(b: BreakWindow): BreakWindow {
    this.breaks.push(b);
    return b;
  }

  private closeBreak(b: BreakWindow | undefined): void {
    if (b) b.endedAt = Date.now();
  }

  /** Whether `user`'s console message is a failure the test caused on purpose (during a break, or just after it). */
  private duringBreak(user: string, text: string, url: string): boolean {
    const now = Date.now();
    return this.breaks.some(
      (b) =>
        (b.user === undefined || b.user === user) &&
        (b.endedAt === undefined || now - b.endedAt <= LATE_REPORT_MS) &&
        b.expected(text, url),
    );
  }

  private watch(user: string, page: Page): void {
    this.users.set(page, user);
    page.on("console", (msg) => {
      const text = msg.text();
      // Failing requests are expected only while the test breaks the connection; at any other time they are a problem.
      if (this.duringBreak(user, text, msg.location().url)) return;
      if (msg.type() === "error" || (msg.type() === "warning" && /hydrat|React|did not match/i.test(text))) {
        this.problems.push({ user, text: `${text} (${msg.location().url})` });
      }
    });
    page.on("pageerror", (err) => this.problems.push({ user, text: `uncaught: ${err.message}` }));
    page.on("websocket", (ws) => {
      if (!ws.url().startsWith(this.herald.url.replace(/^http/, "ws"))) return;
      const s = this.sockets.get(user) ?? { open: 0, max: 0 };
      this.sockets.set(user, s);
      s.open++;
      s.max = Math.max(s.max, s.open);
      ws.on("close", () => s.open--);
    });
  }

  /** Publishes as the app's back end (HTTP API with the API key). */
  async publish(channel: string, data: unknown): Promise<number> {
    const r = await fetch(`${this.herald.url}/api/publish`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${this.apiKey}` },
      body: JSON.stringify({ channel, data }),
    });
    const j = (await r.json()) as { offset?: number; error?: unknown };
    if (!r.ok || j.offset === undefined) throw new Error(`publish failed: ${JSON.stringify(j)}`);
    return j.offset;
  }

  /** Texts of a channel's stored messages (HTTP API history, oldest first). */
  async storedTexts(channel: string): Promise<string[]> {
    const r = await fetch(`${this.herald.url}/api/history/${channel}?limit=1000`, {
      headers: { authorization: `Bearer ${this.apiKey}` },
    });
    const j = (await r.json()) as { publications: { data: { text?: string } }[] };
    return j.publications.map((p) => p.data.text ?? "");
  }

  async screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(IMAGES_DIR, `nextjs-${name}.png`) });
  }
}

/** The texts of the messages on screen. */
export async function messageTexts(page: Page): Promise<string[]> {
  return page.locator("[data-testid=message] .msg-text").allInnerTexts();
}

/** A message on screen by its text. */
export function message(page: Page, text: string) {
  return page.locator("[data-testid=message]", { has: page.locator(".msg-text", { hasText: text }) });
}

export async function send(page: Page, text: string): Promise<void> {
  await page.fill("[data-testid=composer]", text);
  await page.press("[data-testid=composer]", "Enter");
}
