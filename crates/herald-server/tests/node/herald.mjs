// Runs the real `herald` binary (HERALD_BIN) for the JavaScript tests, on a
// fixed port so a client's automatic reconnect finds it again after a restart.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Flags for Debian chromium in the browser tests: headless, and no network beyond 127.0.0.1. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns a truthy value, or fail with `what`. */
export async function waitFor(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export class Herald {
  constructor(config = '') {
    const bin = process.env.HERALD_BIN;
    if (!bin) throw new Error('set HERALD_BIN to the herald binary (target/debug/herald)');
    this.bin = bin;
    this.dir = mkdtempSync(join(tmpdir(), 'herald-js-'));
    this.config = join(this.dir, 'herald.toml');
    writeFileSync(this.config, config);
    this.child = null;
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    this.port ??= await freePort();
    const args = ['serve', '--config', this.config, '--listen', `127.0.0.1:${this.port}`, '--data-dir', join(this.dir, 'data')];
    this.child = spawn(this.bin, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, RUST_LOG: process.env.HERALD_TEST_LOG ?? 'error' } });
    await waitFor('herald to be healthy', async () => {
      try {
        return (await fetch(`${this.base}/healthz`)).ok;
      } catch {
        return false;
      }
    });
  }

  /** Stop with `signal` and wait for the process to exit. */
  async stop(signal = 'SIGTERM') {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
    this.child = null;
  }

  async restart(signal) {
    await this.stop(signal);
    await this.start();
  }

  async publish(channel, data) {
    const r = await fetch(`${this.base}/api/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel, data }),
    });
    if (!r.ok) throw new Error(`publish failed: ${r.status} ${await r.text()}`);
    return (await r.json()).offset;
  }

  async close() {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The expected [channel, offset, data] list for `n` publications per channel starting at `from`. */
export function expected(channels, from, n) {
  const out = [];
  for (const c of channels) for (let i = 0; i < n; i++) out.push([c, from + i, `${c}#${from + i}`]);
  return out;
}

export function assertEqual(actual, wanted, what) {
  const a = JSON.stringify(actual);
  const w = JSON.stringify(wanted);
  if (a !== w) throw new Error(`${what}:\n  got      ${a}\n  expected ${w}`);
}

const b64url = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An HS256 JWT for `sub` with `capabilities`, valid for an hour, signed with `secret`. */
export function hs256Token(secret, sub, capabilities) {
  const head = b64url({ alg: 'HS256', typ: 'JWT' });
  const now = Math.floor(Date.now() / 1000);
  const body = b64url({ sub, iat: now, exp: now + 3600, capabilities });
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}
