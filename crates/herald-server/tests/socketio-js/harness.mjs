// Shared set-up for the Socket.IO door tests: a running herald with a token
// secret, tokens, promise helpers around socket.io-client, and a small TCP
// proxy (to drop a client's transport, or to spread connections over nodes).
import net from 'node:net';
import { io } from 'socket.io-client';
import { Herald, freePort, hs256Token, sleep, waitFor } from '../node/herald.mjs';

export { Herald, freePort, sleep, waitFor };

export const SECRET = 'socketio-test-secret';

/** herald.toml for the tests (`extra` appended). */
export function config(extra = '') {
  return `ephemeral = true
[auth]
token_secret = "${SECRET}"
[limits]
messages_per_conn_per_sec = 10000
messages_per_conn_burst = 10000
publishes_per_user_per_sec = 10000
publishes_per_user_burst = 10000
api_calls_per_sec = 100000
api_calls_burst = 100000
[namespaces.room]
presence = true
presence_grace_ms = 0
[socketio]
ping_interval_ms = 1000
ping_timeout_ms = 2000
${extra}
`;
}

/** Start a herald with the test configuration. */
export async function startHerald(extra = '') {
  const herald = new Herald(config(extra));
  await herald.start();
  return herald;
}

/** A token for `sub` that may subscribe/publish/presence on `channels`. */
export function token(sub, channels = ['chat:*', 'room:*', 'short:*']) {
  return hs256Token(SECRET, sub, [{ channels, allow: ['subscribe', 'publish', 'presence'] }]);
}

/** An unmodified socket.io-client socket to `url` as `sub`. */
export function client(url, sub, opts = {}) {
  return io(url, { auth: { token: token(sub) }, reconnectionDelay: 50, reconnectionDelayMax: 100, forceNew: true, ...opts });
}

/** Resolve with the arguments of the next `event` on `target`. */
export function next(target, event, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    target.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

/** Emit `event` with `arg` and resolve with the ack's first argument. */
export function request(socket, event, arg, timeoutMs = 10000) {
  return socket.timeout(timeoutMs).emitWithAck(event, arg);
}

/** Connect and resolve once connected (rejects on connect_error). */
export async function connected(socket) {
  if (socket.connected) return socket;
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

/** A TCP proxy in front of `targets` (round-robin per connection); `dropAll()` cuts every connection. */
export async function tcpProxy(targets) {
  const port = await freePort();
  const open = new Set();
  let turn = 0;
  const server = net.createServer((downstream) => {
    const target = targets[turn++ % targets.length];
    const upstream = net.connect(target, '127.0.0.1');
    const pair = { downstream, upstream, target };
    open.add(pair);
    const end = () => {
      open.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    connections: open,
    dropAll() {
      for (const { downstream, upstream } of open) {
        downstream.destroy();
        upstream.destroy();
      }
      open.clear();
    },
    close() {
      this.dropAll();
      server.close();
    },
  };
}
