// Starting the example's processes: the real `herald` binary and Next.js.
// Used by `demo.mjs` (herald + next dev) and by the end-to-end tests
// (herald + next start, on free ports, restarted at will).
import { execFileSync, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync } from "node:fs";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const EXAMPLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_DIR = resolve(EXAMPLE_DIR, "../..");
export const DEFAULT_SECRET = "herald-dev-secret";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

/** Polls `check` until it returns something truthy; fails with `what` after `timeoutMs`. */
export async function waitFor(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${last})` : ""}`);
    await sleep(100);
  }
}

/**
 * The herald binary: $HERALD_BIN, else target/debug/herald (or under
 * $CARGO_TARGET_DIR), built with cargo when missing and `build` is set.
 */
export function heraldBinary({ build = false } = {}) {
  if (process.env.HERALD_BIN) return process.env.HERALD_BIN;
  const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(REPO_DIR, "target");
  const bin = join(target, "debug", "herald");
  if (existsSync(bin)) return bin;
  if (!build) throw new Error(`no herald binary at ${bin}: build it (cargo build -p herald-server --bin herald) or set HERALD_BIN`);
  console.log("building herald (cargo build -p herald-server --bin herald)…");
  execFileSync("cargo", ["build", "-p", "herald-server", "--bin", "herald"], { cwd: REPO_DIR, stdio: "inherit" });
  return bin;
}

function logTo(file) {
  if (!file) return "inherit";
  mkdirSync(dirname(file), { recursive: true });
  return createWriteStream(file, { flags: "a" });
}

async function ready(url) {
  try {
    return (await fetch(url, { redirect: "manual" })).status < 500;
  } catch {
    return false;
  }
}

/** A child process in its own process group, stopped by its id. */
class Proc {
  constructor(name, cmd, args, opts) {
    this.name = name;
    this.cmd = cmd;
    this.args = args;
    this.opts = opts;
    this.child = null;
  }

  spawn() {
    const out = logTo(this.opts.log);
    this.child = spawn(this.cmd, this.args, {
      cwd: this.opts.cwd,
      env: this.opts.env,
      detached: true,
      stdio: ["ignore", out === "inherit" ? "inherit" : "pipe", out === "inherit" ? "inherit" : "pipe"],
    });
    if (out !== "inherit") {
      this.child.stdout.pipe(out, { end: false });
      this.child.stderr.pipe(out, { end: false });
    }
  }

  /** Sends `signal` to the process group and waits for the process to exit. */
  async stop(signal = "SIGTERM") {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
    await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* gone */
      }
      await exited;
    }
    this.child = null;
  }
}

/**
 * Herald with the example's herald.toml, on `port`, storing under `dataDir`
 * (kept across restarts); with `changesUrl`, publishing that PostgreSQL
 * database's row changes (`HERALD_CHANGES_URL`, docs/changes.md).
 */
export class HeraldProcess extends Proc {
  constructor({ port, dataDir, secret = DEFAULT_SECRET, apiKey, changesUrl, log, bin = heraldBinary() }) {
    const env = { ...process.env, HERALD_TOKEN_SECRET: secret, RUST_LOG: process.env.RUST_LOG ?? "warn" };
    if (apiKey) env.HERALD_API_KEY = apiKey;
    else delete env.HERALD_API_KEY;
    if (changesUrl) env.HERALD_CHANGES_URL = changesUrl;
    else delete env.HERALD_CHANGES_URL;
    super(
      "herald",
      bin,
      ["serve", "--config", join(EXAMPLE_DIR, "herald.toml"), "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir],
      { cwd: EXAMPLE_DIR, env, log },
    );
    this.port = port;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.spawn();
    await waitFor("herald to be healthy", () => ready(`${this.url}/healthz`));
  }
}

/** Next.js (`next start` after `next build`, or `next dev`) pointed at a Herald, and at `databaseUrl` when given (the orders page). */
export class NextProcess extends Proc {
  constructor({ mode = "start", port, heraldUrl, secret = DEFAULT_SECRET, apiKey, databaseUrl, log, extraEnv = {} }) {
    const env = {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: "1",
      HERALD_URL: heraldUrl,
      HERALD_TOKEN_SECRET: secret,
      ...extraEnv,
    };
    if (apiKey) env.HERALD_API_KEY = apiKey;
    else delete env.HERALD_API_KEY;
    if (databaseUrl) env.DATABASE_URL = databaseUrl;
    else delete env.DATABASE_URL;
    // `next dev` and `next start` set NODE_ENV themselves.
    delete env.NODE_ENV;
    const bin = join(EXAMPLE_DIR, "node_modules", "next", "dist", "bin", "next");
    super("next", process.execPath, [bin, mode, "-H", "127.0.0.1", "-p", String(port)], { cwd: EXAMPLE_DIR, env, log });
    this.port = port;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.spawn();
    await waitFor("next to answer", () => ready(`${this.url}/`), 120_000);
  }
}
