// Token auth with the real `ably` client library (2.x), in MessagePack and
// JSON: authCallback and authUrl with a TokenRequest (exchanged at
// /keys/{keyName}/requestToken), with TokenDetails, with an Ably JWT, with a Herald token;
// the token's capability and clientId enforced; an expired token renewed
// (40142) and a token renewed before expiry (AUTH) without losing the
// connection; a TokenRequest signed with a wrong secret refused.
// Run: HERALD_BIN=target/debug/herald node --test-force-exit tokens.test.mjs
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { describe, test } from 'node:test';
import { hs256Token } from '../node/herald.mjs';
import { Ably, KEY, TOKEN_SECRET, freePort, options, realtime, sleep, serve, state, waitFor } from './harness.mjs';

// Tokens expire fast here: the server asks for a new one 2 s before.
const env = serve(`[auth]\ntoken_secret = "${TOKEN_SECRET}"\n[ably]\nreauth_before_expiry_ms = 2000\n`);

const [KEY_NAME, KEY_SECRET] = KEY.split(':');
const b64url = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An Ably JWT signed with the key's secret. */
function ablyJwt({ clientId, capability = { '*': ['*'] }, ttlSecs = 3600 }) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url({ alg: 'HS256', typ: 'JWT', kid: KEY_NAME });
  const claims = { iat: now, exp: now + ttlSecs, 'x-ably-capability': JSON.stringify(capability) };
  if (clientId) claims['x-ably-clientId'] = clientId;
  const body = b64url(claims);
  const sig = createHmac('sha256', KEY_SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** Token options: no key, the given authCallback. */
const tokenOptions = (binary, authCallback) => ({ ...options(env.herald, binary), key: undefined, authCallback });

for (const binary of [true, false]) {
  const fmt = binary ? 'msgpack' : 'json';
  describe(`tokens over ${fmt}`, () => {
    test('authCallback with a TokenRequest: exchanged, clientId and capability enforced', async () => {
      const server = new Ably.Rest(options(env.herald, binary));
      let calls = 0;
      const c = realtime(env.herald, binary, tokenOptions(binary, (params, cb) => {
        calls += 1;
        server.auth
          .createTokenRequest({ clientId: 'tok', capability: { 'chat:*': ['subscribe', 'publish'] } })
          .then((tr) => cb(null, tr), (e) => cb(e, null));
      }));
      await state(c, 'connected');
      assert.equal(calls, 1);
      assert.equal(c.auth.clientId, 'tok');
      const got = [];
      const ch = c.channels.get(`chat:${fmt}-tr`);
      await ch.subscribe((m) => got.push([m.clientId, m.data]));
      await ch.publish('x', 'hello');
      await waitFor('own message', () => got.length === 1);
      assert.deepEqual(got[0], ['tok', 'hello']);
      await assert.rejects(c.channels.get('news').attach(), (e) => e.code === 40160);
    });

    test('authUrl answering a TokenRequest (the app back end signs it with the key)', async () => {
      const server = new Ably.Rest(options(env.herald, binary));
      const backend = http.createServer(async (req, res) => {
        const tr = await server.auth.createTokenRequest({ clientId: 'url-user' });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(tr));
      });
      const port = await freePort();
      await new Promise((r) => backend.listen(port, '127.0.0.1', r));
      try {
        const c = realtime(env.herald, binary, { ...options(env.herald, binary), key: undefined, authUrl: `http://127.0.0.1:${port}/token` });
        await state(c, 'connected');
        assert.equal(c.auth.clientId, 'url-user');
        await c.channels.get(`chat:${fmt}-url`).publish('x', 'ok');
      } finally {
        backend.close();
        backend.closeAllConnections();
      }
    });

    test('authCallback with TokenDetails from the REST requestToken', async () => {
      const server = new Ably.Rest(options(env.herald, binary));
      const details = await server.auth.requestToken({ clientId: 'details-user', capability: { 'chat:*': ['*'] } });
      assert.equal(details.clientId, 'details-user');
      assert.ok(details.expires > Date.now());
      const c = realtime(env.herald, binary, tokenOptions(binary, (p, cb) => cb(null, details)));
      await state(c, 'connected');
      assert.equal(c.auth.clientId, 'details-user');
      await c.channels.get(`chat:${fmt}-details`).publish('x', 'ok');
    });

    test('authCallback with an Ably JWT', async () => {
      const c = realtime(env.herald, binary, tokenOptions(binary, (p, cb) => cb(null, ablyJwt({ clientId: 'jwt-user' }))));
      await state(c, 'connected');
      assert.equal(c.auth.clientId, 'jwt-user');
      await c.channels.get(`chat:${fmt}-jwt`).presence.enter('hi');
    });

    test('authCallback with a Herald token: its grants are the capability', async () => {
      const token = hs256Token(TOKEN_SECRET, 'herald-user', [{ channels: ['chat:*'], allow: ['subscribe', 'publish'] }]);
      const c = realtime(env.herald, binary, tokenOptions(binary, (p, cb) => cb(null, token)));
      await state(c, 'connected');
      assert.equal(c.auth.clientId, 'herald-user');
      await c.channels.get(`chat:${fmt}-herald`).publish('x', 'ok');
      await assert.rejects(c.channels.get('news').attach(), (e) => e.code === 40160);
    });

    test('an expired token is refused with 40142 and the client renews it', async () => {
      let calls = 0;
      const c = realtime(env.herald, binary, tokenOptions(binary, (p, cb) => {
        calls += 1;
        cb(null, ablyJwt({ clientId: 'late', ttlSecs: calls === 1 ? -10 : 3600 }));
      }));
      await state(c, 'connected');
      assert.equal(calls, 2);
    });

    test('a token about to expire is renewed over the live connection (AUTH), nothing lost', async () => {
      let calls = 0;
      const c = realtime(env.herald, binary, tokenOptions(binary, (p, cb) => {
        calls += 1;
        cb(null, ablyJwt({ clientId: 'renew', ttlSecs: 3 }));
      }));
      await state(c, 'connected');
      const id = c.connection.id;
      const states = [];
      c.connection.on((change) => states.push(change.current));
      const got = [];
      const ch = c.channels.get(`chat:${fmt}-renew`);
      await ch.subscribe((m) => got.push(m.data));
      await waitFor('a renewal', () => calls >= 2, 10000);
      await sleep(2500); // past the first token's expiry
      await ch.publish('x', 'after');
      await waitFor('delivery', () => got.length === 1);
      assert.equal(c.connection.id, id);
      assert.equal(c.connection.state, 'connected');
      assert.deepEqual(states.filter((s) => s !== 'update' && s !== 'connected'), [], `states: ${states}`);
    });

    test('a TokenRequest signed with a wrong secret is refused with 40101', async () => {
      const wrong = new Ably.Rest(options(env.herald, binary, { key: `${KEY_NAME}:wrong` }));
      await assert.rejects(wrong.auth.requestToken(), (e) => e.code === 40101);
    });
  });
}
