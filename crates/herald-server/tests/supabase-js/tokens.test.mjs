// realtime-js against herald with a token key: Herald tokens as apikey or
// access_token, capabilities on realtime: channels, private channels
// (explicit grant only), token expiry (a system error, then the channel
// closes), and the REST broadcast's answers (202, 401, 403, 422).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { client, sleep, startHerald, subscribe, subscribed, waitFor } from './harness.mjs';

const SECRET = 'supabase-door-secret';
const API_KEY = 'server-api-key';
const b64url = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
function token(sub, capabilities, ttlSecs = 3600, extra = {}) {
  const head = b64url({ alg: 'HS256', typ: 'JWT' });
  const now = Math.floor(Date.now() / 1000);
  const body = b64url({ sub, iat: now, exp: now + ttlSecs, capabilities, ...extra });
  const sig = createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}
const ALL = ['subscribe', 'publish', 'presence'];

let herald;
const clients = [];
const open = (apikey) => {
  const c = client(herald, { apikey });
  clients.push(c);
  return c;
};

before(async () => {
  const roles = `[supabase.roles]
anon = [{ channels = ["realtime:public-*"], allow = ["subscribe"] }]
authenticated = [{ channels = ["realtime:*"], allow = ["subscribe", "publish", "presence"] }]
`;
  herald = await startHerald(`[auth]\ntoken_secret = "${SECRET}"\nleeway_secs = 0\n${roles}`, { top: `api_key = "${API_KEY}"\n` });
});

after(async () => {
  for (const c of clients) c.disconnect();
  await herald.close();
});

test('a Herald token as apikey: its capabilities apply; no token: nothing', async () => {
  const alice = open(token('alice', [{ channels: ['realtime:*'], allow: ALL }]));
  const got = [];
  const ch = alice
    .channel('team', { config: { broadcast: { self: true, ack: true }, presence: { key: 'ignored' } } })
    .on('broadcast', { event: 'hi' }, (m) => got.push(m.payload));
  await subscribed(ch);
  assert.equal(await ch.send({ type: 'broadcast', event: 'hi', payload: 1 }), 'ok');
  await waitFor('own broadcast', () => got.length === 1);
  await ch.track({ mood: 'good' });
  await waitFor('presence keyed by the user id', () => ch.presenceState().alice?.[0]?.mood === 'good');

  const readOnly = open(token('rita', [{ channels: ['realtime:*'], allow: ['subscribe'] }]));
  const ro = readOnly.channel('team', { config: { broadcast: { ack: true } } });
  await subscribed(ro);
  assert.equal(await ro.send({ type: 'broadcast', event: 'hi', payload: 2 }), 'error', 'no publish right');

  const anon = open('the-supabase-anon-key');
  const { status, err } = await subscribe(anon.channel('team'));
  assert.equal(status, 'CHANNEL_ERROR');
  assert.match(String(err), /may not subscribe/);
});

test('Supabase tokens (a role, no capabilities) get what [supabase.roles] grants that role', async () => {
  // Supabase's anon key and a user's session token, signed with the same secret.
  const anonKey = token(undefined, undefined, 3600, { role: 'anon', iss: 'supabase' });
  const session = token('3f1c-user', undefined, 3600, { role: 'authenticated', aud: 'authenticated' });
  const anon = open(anonKey);
  await subscribed(anon.channel('public-news'));
  assert.equal((await subscribe(anon.channel('team-roles'))).status, 'CHANNEL_ERROR');
  const user = open(anonKey);
  await user.setAuth(session);
  const ch = user.channel('team-roles');
  await subscribed(ch);
  await ch.track({ here: true });
  await waitFor('presence keyed by the session user', () => ch.presenceState()['3f1c-user']);
  const other = open(token('x', undefined, 3600, { role: 'service_role' }));
  assert.equal((await subscribe(other.channel('public-news'))).status, 'CHANNEL_ERROR', 'an unlisted role gets nothing');
});

test('access_token signs an anonymous socket in', async () => {
  const anon = open('not-a-token');
  await anon.setAuth(token('carl', [{ channels: ['realtime:*'], allow: ALL }]));
  await subscribed(anon.channel('team'));
});

test('private channels need an explicit grant; a wildcard never opens them', async () => {
  const wide = open(token('walt', [{ channels: ['realtime:*', '*'], allow: ALL }]));
  const { status } = await subscribe(wide.channel('vault', { config: { private: true } }));
  assert.equal(status, 'CHANNEL_ERROR');
  const grant = [{ channels: ['realtime:private-vault'], allow: ALL }];
  const [p, q] = [open(token('pam', grant)), open(token('quin', grant))];
  const got = [];
  const cp = p.channel('vault', { config: { private: true } }).on('broadcast', { event: 'x' }, (m) => got.push(m.payload));
  await subscribed(cp);
  const cq = q.channel('vault', { config: { private: true } });
  await subscribed(cq);
  await cq.send({ type: 'broadcast', event: 'x', payload: 'secret' });
  await waitFor('the private broadcast', () => got.length === 1);
  // The public channel of the same name is another channel.
  const pub = open(token('pete', [{ channels: ['realtime:*'], allow: ALL }]));
  const seen = [];
  await subscribed(pub.channel('vault').on('broadcast', { event: 'x' }, (m) => seen.push(m)));
  await cq.send({ type: 'broadcast', event: 'x', payload: 'secret 2' });
  await waitFor('the second private broadcast', () => got.length === 2);
  await sleep(200);
  assert.equal(seen.length, 0);
});

test('an expired token ends the channel with a system error', async () => {
  const c = open(token('eve', [{ channels: ['realtime:*'], allow: ALL }], 2));
  const system = [];
  const statuses = [];
  const ch = c.channel('short').on('system', {}, (m) => system.push(m));
  ch.subscribe((s) => statuses.push(s));
  await waitFor('SUBSCRIBED', () => statuses.includes('SUBSCRIBED'));
  await waitFor('the system error', () => system.some((m) => m.status === 'error'), 10000);
  assert.match(system.find((m) => m.status === 'error').message, /expired/i);
  await waitFor('the channel closes', () => statuses.includes('CLOSED'));
});

test('an access_token push with a fresh token outlives the old expiry; an expired one ends the channel', async () => {
  const c = open(token('fay', [{ channels: ['realtime:*'], allow: ALL }], 2));
  const statuses = [];
  const system = [];
  const got = [];
  const ch = c
    .channel('refresh')
    .on('system', {}, (m) => system.push(m))
    .on('broadcast', { event: 'b' }, (m) => got.push(m.payload));
  ch.subscribe((s) => statuses.push(s));
  await waitFor('SUBSCRIBED', () => statuses.includes('SUBSCRIBED'));
  await c.setAuth(token('fay', [{ channels: ['realtime:*'], allow: ALL }], 3600));
  await sleep(3000);
  const r = await fetch(`${herald.base}/api/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ channel: 'realtime:refresh', data: { event: 'b', data: 'still here' } }),
  });
  assert.equal(r.status, 200);
  await waitFor('a broadcast after the first token expired', () => got.length === 1);
  assert.ok(!statuses.includes('CLOSED'));
  await c.setAuth(token('fay', [{ channels: ['realtime:*'], allow: ALL }], -60));
  await waitFor('the system error', () => system.some((m) => m.status === 'error'));
  await waitFor('the channel closes', () => statuses.includes('CLOSED'));
});

test('REST broadcast: 202 with the API key or a publishing token; 401, 403, 422 otherwise', async () => {
  const rx = open(token('rex', [{ channels: ['realtime:*'], allow: ALL }]));
  const got = [];
  await subscribed(rx.channel('rest').on('broadcast', { event: 'news' }, (m) => got.push(m.payload)));
  const post = (headers, body) =>
    fetch(`${herald.base}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const msg = (payload) => ({ messages: [{ topic: 'rest', event: 'news', payload }] });
  let r = await post({ authorization: `Bearer ${API_KEY}` }, msg(1));
  assert.equal(r.status, 202);
  assert.equal(await r.text(), '');
  r = await post({ apikey: token('pub', [{ channels: ['realtime:rest'], allow: ['publish'] }]) }, msg(2));
  assert.equal(r.status, 202);
  await waitFor('both REST broadcasts', () => got.length === 2);
  assert.deepEqual(got, [1, 2]);
  assert.equal((await post({}, msg(3))).status, 401);
  assert.equal((await post({ authorization: 'Bearer nonsense' }, msg(3))).status, 401);
  const noRight = token('sub', [{ channels: ['realtime:*'], allow: ['subscribe'] }]);
  assert.equal((await post({ authorization: `Bearer ${noRight}` }, msg(3))).status, 403);
  assert.equal((await post({ authorization: `Bearer ${API_KEY}` }, { topic: 'rest' })).status, 422);
  assert.equal((await post({ authorization: `Bearer ${API_KEY}` }, 'not json')).status, 422);
  // realtime-js's own httpSend, with the API key as its apikey.
  const sender = open(API_KEY);
  const res = await sender.channel('rest').httpSend('news', 4);
  assert.deepEqual(res, { success: true });
  await waitFor('httpSend', () => got.length === 3);
});
