// Shared set-up for the Pusher tests: a running herald with one Pusher app
// (and a webhook URL), and the app's own back end built with the `pusher`
// server SDK: the channel-authorization and user-authentication endpoints
// pusher-js calls, and the webhook receiver.
import http from 'node:http';
import PusherServer from 'pusher';
import { Herald, freePort, sleep, waitFor } from '../node/herald.mjs';

export { sleep, waitFor, freePort };

export const APP = { appId: 'app-1', key: 'key-1', secret: 'secret-1' };
// 32 bytes, base64: the app's encryption master key (the server never sees it).
export const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

const readBody = (req) =>
  new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });

/** Start herald and the app back end. `extra` is appended to herald.toml. */
export async function start(extra = '') {
  const backendPort = await freePort();
  const herald = new Herald(`ephemeral = true
[limits]
messages_per_conn_per_sec = 10000
messages_per_conn_burst = 10000
api_calls_per_sec = 100000
api_calls_burst = 100000
[pusher]
activity_timeout_secs = 120
[[pusher.apps]]
id = "${APP.appId}"
key = "${APP.key}"
secret = "${APP.secret}"
webhook_url = "http://127.0.0.1:${backendPort}/webhooks"
${extra}
`);
  await herald.start();
  const server = new PusherServer({
    ...APP,
    host: '127.0.0.1',
    port: String(herald.port),
    useTLS: false,
    encryptionMasterKeyBase64: MASTER_KEY,
  });
  const webhooks = [];
  // The first webhook deliveries fail with 500, so herald must retry them.
  const hookFailures = { left: 2, seen: 0 };
  const backend = http.createServer(async (req, res) => {
    const body = await readBody(req);
    if (req.url === '/webhooks') {
      if (hookFailures.left > 0) {
        hookFailures.left -= 1;
        hookFailures.seen += 1;
        res.statusCode = 500;
        res.end('try again');
        return;
      }
      const hook = server.webhook({ headers: req.headers, rawBody: body });
      webhooks.push({ valid: hook.isValid(), events: hook.isValid() ? hook.getEvents() : [], raw: body });
      res.end('ok');
      return;
    }
    const form = new URLSearchParams(body);
    const socketId = form.get('socket_id');
    let answer;
    if (req.url === '/api/pusher/auth') {
      const channel = form.get('channel_name');
      const user = form.get('user');
      const presence = channel.startsWith('presence-') ? { user_id: user, user_info: { name: form.get('name') } } : undefined;
      answer = server.authorizeChannel(socketId, channel, presence);
    } else if (req.url === '/api/pusher/user-auth') {
      answer = server.authenticateUser(socketId, { id: form.get('user'), name: form.get('name') });
    } else {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(answer));
  });
  await new Promise((r) => backend.listen(backendPort, '127.0.0.1', r));
  return {
    herald,
    server,
    webhooks,
    hookFailures,
    backendUrl: `http://127.0.0.1:${backendPort}`,
    async close() {
      backend.close();
      backend.closeAllConnections();
      await herald.close();
    },
  };
}

/** Options for a pusher-js client of the test app as user `user`. */
export function clientOptions(env, user, extra = {}) {
  return {
    wsHost: '127.0.0.1',
    wsPort: env.herald.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    cluster: 'mt1',
    channelAuthorization: { endpoint: `${env.backendUrl}/api/pusher/auth`, params: { user, name: `User ${user}` } },
    userAuthentication: { endpoint: `${env.backendUrl}/api/pusher/user-auth`, params: { user, name: `User ${user}` } },
    ...extra,
  };
}

/** Resolve with the first `event`'s data on `target` (a channel or a
 * connection); with `withMeta`, with [data, metadata]. */
export function once(target, event, { timeoutMs = 10000, withMeta = false } = {}) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    const handler = (...args) => {
      clearTimeout(t);
      target.unbind(event, handler);
      resolve(withMeta ? args : args[0]);
    };
    target.bind(event, handler);
  });
}

export async function connected(pusher) {
  if (pusher.connection.state === 'connected') return;
  await once(pusher.connection, 'connected');
}

export async function subscribed(channel) {
  if (channel.subscribed) return;
  await new Promise((resolve, reject) => {
    channel.bind('pusher:subscription_succeeded', resolve);
    channel.bind('pusher:subscription_error', (e) => reject(new Error(`subscription_error ${JSON.stringify(e)}`)));
  });
}
