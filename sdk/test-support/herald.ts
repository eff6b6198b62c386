/**
 * Starts real Herald servers for the SDK tests (never a mock): the `herald`
 * binary on a free loopback port with a temporary config file.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Config used unless a test passes its own: presence in `room:`, 5-deep history in `small:`, no client publishes in `readonly:`. */
export const DEFAULT_CONFIG = `
[namespaces.room]
presence = true

[namespaces.small]
history_size = 5

[namespaces.readonly]
allow_client_publish = false
`;

/** The herald binary: $HERALD_BIN, else target/debug/herald (built with cargo if missing). */
export function findHeraldBin(): string {
  const fromEnv = process.env.HERALD_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`HERALD_BIN=${fromEnv} does not exist`);
    return fromEnv;
  }
  const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(repoRoot, "target");
  const bin = join(targetDir, "debug", "herald");
  if (!existsSync(bin)) {
    console.log(`[herald tests] ${bin} missing: cargo build -p herald-server`);
    execFileSync("cargo", ["build", "-p", "herald-server"], { cwd: repoRoot, stdio: "inherit" });
  }
  if (!existsSync(bin)) throw new Error(`cargo build did not produce ${bin}`);
  return bin;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export interface StartOptions {
  bin?: string;
  port?: number;
  /** Data directory; without it the server runs `--ephemeral`. */
  dataDir?: string;
  config?: string;
  apiKey?: string;
  extraArgs?: string[];
}

/** A running `herald` process (not to be confused with `@herald/next`'s `HeraldServer`, the HTTP API client). */
export interface HeraldProcess {
  port: number;
  /** ws://127.0.0.1:PORT/ws */
  wsUrl: string;
  /** http://127.0.0.1:PORT */
  httpUrl: string;
  /** Kills the process (SIGKILL by default: a crash) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port, config and data dir. */
  restart(): Promise<void>;
  /** Current `herald_connections` gauge from /metrics. */
  connections(): Promise<number>;
}

async function waitHealthy(httpUrl: string, proc: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`herald exited with ${proc.exitCode}:\n${output()}`);
    try {
      const r = await fetch(`${httpUrl}/healthz`);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`herald did not become healthy:\n${output()}`);
}

export async function startHerald(opts: StartOptions = {}): Promise<HeraldProcess> {
  const bin = opts.bin ?? process.env.HERALD_TEST_BIN ?? findHeraldBin();
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "herald-sdk-"));
  const configPath = join(dir, "herald.toml");
  writeFileSync(configPath, opts.config ?? DEFAULT_CONFIG);
  const httpUrl = `http://127.0.0.1:${port}`;
  let proc: ChildProcess;
  let out = "";

  const launch = async () => {
    const args = ["serve", "--listen", `127.0.0.1:${port}`, "--config", configPath, "--log-format", "json"];
    if (opts.dataDir) args.push("--data-dir", opts.dataDir);
    else args.push("--ephemeral");
    if (opts.apiKey) args.push("--api-key", opts.apiKey);
    args.push(...(opts.extraArgs ?? []));
    out = "";
    proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "warn" } });
    proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    await waitHealthy(httpUrl, proc, () => out);
  };
  await launch();

  process.once("exit", () => proc.kill("SIGKILL"));
  const stop = async (signal: NodeJS.Signals = "SIGKILL") => {
    const p = proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((res) => {
      p.once("exit", () => res());
      p.kill(signal);
    });
  };

  return {
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    httpUrl,
    stop,
    async restart() {
      await stop();
      await launch();
    },
    async connections() {
      const text = await (await fetch(`${httpUrl}/metrics`)).text();
      const m = /^herald_connections(?:\{[^}]*\})?\s+(\d+(?:\.\d+)?)/m.exec(text);
      return m ? Number(m[1]) : 0;
    },
  } satisfies HeraldProcess;
}

/** POST/GET helper for the HTTP API in tests. */
export async function api<T = unknown>(httpUrl: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${httpUrl}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await r.json()) as T;
  if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** Polls `cond` until it is true; on timeout fails with `what` and the last error `cond` threw, if any. */
export function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  return new Promise((res, rej) => {
    const tick = async () => {
      try {
        if (await cond()) return res();
      } catch (e) {
        last = e; // retried; reported if it is still failing at the deadline
      }
      if (Date.now() > deadline) return rej(new Error(`timed out waiting for ${what}${last === undefined ? "" : ` (last error: ${String(last)})`}`));
      setTimeout(tick, 20);
    };
    void tick();
  });
}
