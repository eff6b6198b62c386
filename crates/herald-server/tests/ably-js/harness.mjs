// Shared set-up for the Ably tests: a running herald with Ably keys and a
// presence namespace, and helpers around the real `ably` client library.
import { after, before } from 'node:test';
import * as Ably from 'ably';
import WebSocket from 'ws';
import { Herald, freePort, sleep, waitFor } from '../node/herald.mjs';

export { Ably, sleep, waitFor, freePort };

/** Every right (from HERALD_ABLY_KEY, as the simple case configures it). */
export const KEY = 'app.key:secret';
/** Subscribe only, on chat:* (from [[ably.keys]]). */
export const RO_KEY = 'app.ro:ro-secret';
/** Herald's own token secret (HS256), for the Herald-token tests. */
export const TOKEN_SECRET = 'herald-token-secret-for-ably-tests';

/** Start herald with the Ably door. `extra` is appended to herald.toml. */
export async function start(extra = '') {
  process.env.HERALD_ABLY_KEY = KEY;
  const herald = new Herald(`ephemeral = true
[limits]
messages_per_conn_per_sec = 10000
messages_per_conn_burst = 10000
api_calls_per_sec = 100000
api_calls_burst = 100000
[namespaces.chat]
presence = true
presence_grace_ms = 0
[[ably.keys]]
name = "app.ro"
secret = "ro-secret"
capability = { "chat:*" = ["subscribe"] }
${extra}
`);
  await herald.start();
  return herald;
}

/** Start herald (with `extra`) before a test file's tests and stop it, and
 * every client, after them: `env.herald` is the running server. */
export function serve(extra) {
  const env = {};
  before(async () => {
    env.herald = await start(extra);
  });
  after(async () => {
    closeAll();
    await env.herald?.close();
  });
  return env;
}

/** Client options pointing ably-js at herald; `binary` false = JSON. */
export function options(herald, binary, extra = {}) {
  return {
    key: KEY,
    endpoint: '127.0.0.1',
    port: herald.port,
    tls: false,
    fallbackHosts: [],
    useBinaryProtocol: binary,
    logLevel: 0,
    ...extra,
  };
}

const opened = [];
/** A Realtime client (closed by `closeAll`). */
export function realtime(herald, binary, extra) {
  const c = new Ably.Realtime(options(herald, binary, extra));
  opened.push(c);
  return c;
}

export function closeAll() {
  for (const c of opened.splice(0)) c.close();
}

/** Wait for a connection state. */
export async function state(client, wanted, timeoutMs = 10000) {
  await waitFor(`connection ${wanted} (is ${client.connection.state})`, () => client.connection.state === wanted, timeoutMs);
}

/** A TCP proxy to herald that can cut every connection and refuse new
 * ones for a while (`cut()`), then let clients back in (`restore()`, to
 * another node with `restore(otherHerald)`). */
export async function proxy(herald) {
  const net = await import('node:net');
  const sockets = new Set();
  let open = true;
  let target = herald;
  const server = net.createServer((client) => {
    if (!open) return client.destroy();
    const upstream = net.connect(target.port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore(to = herald) {
      target = to;
      open = true;
    },
    close() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

/** A native Herald WebSocket client subscribed to `channel`: its publications' data. */
export async function nativeSubscriber(herald, channel) {
  const ws = new WebSocket(`ws://127.0.0.1:${herald.port}/ws`);
  const got = [];
  let ready;
  const subscribed = new Promise((r) => (ready = r));
  ws.on('message', (raw) => {
    const f = JSON.parse(raw.toString());
    if (f.id === 1) ws.send(JSON.stringify({ id: 2, op: 'subscribe', channel }));
    else if (f.id === 2) ready();
    else if (f.channel === channel && 'data' in f && 'offset' in f) got.push(f.data);
    else if (f.push === 'ping') ws.send(JSON.stringify({ op: 'pong' }));
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ id: 1, op: 'connect', client: 'ably-test' }));
  await subscribed;
  return { got, close: () => ws.close() };
}
