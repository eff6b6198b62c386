// The real pusher-js (8.x) client and pusher (5.x) server SDK against herald's
// Pusher door: connect, public/private/presence/encrypted channels with an
// auth endpoint built on the SDK's authorizeChannel, triggers in order,
// socket_id exclusion, client events, presence, refused signatures, REST
// queries, sign-in and server-to-user events, cache channels, webhooks
// validated with the SDK's webhook(), and one hub shared with Herald's own
// protocol. Run: HERALD_BIN=target/debug/herald node --test-force-exit pusher.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Pusher from 'pusher-js';
import WebSocket from 'ws';
import { APP, clientOptions, connected, once, sleep, start, subscribed, waitFor } from './harness.mjs';

let env;
// pusher-js wraps a close-time error in a WebSocketError: { error: { data: { code } } }.
const errorCode = (e) => (e.data ?? e.error?.data)?.code;
const clients = [];
function client(user, extra, Impl = Pusher) {
  const p = new Impl(APP.key, clientOptions(env, user, extra));
  clients.push(p);
  return p;
}

before(async () => {
  env = await start();
});
after(async () => {
  for (const c of clients) c.disconnect();
  await env?.close();
});

test('connects with a Pusher socket id and activity timeout', async () => {
  const p = client('a');
  await connected(p);
  assert.match(p.connection.socket_id, /^\d+\.\d+$/);
  assert.equal(p.connection.activityTimeout, 120000);
});

test('an unknown app key is refused with 4001 and pusher-js stops reconnecting', async () => {
  const p = new Pusher('no-such-key', clientOptions(env, 'x'));
  clients.push(p);
  const errors = [];
  p.connection.bind('error', (e) => errors.push(e));
  await waitFor('the 4001 error', () => errors.some((e) => errorCode(e) === 4001), 10000).catch(() => {
    throw new Error(`errors: ${JSON.stringify(errors)}`);
  });
  await waitFor('disconnected', () => p.connection.state === 'disconnected');
  await sleep(1500);
  assert.equal(p.connection.state, 'disconnected', 'pusher-js must not retry a refused key');
});

test('trigger and batch trigger arrive in order on a public channel', async () => {
  const p = client('a');
  const ch = p.subscribe('news');
  await subscribed(ch);
  const got = [];
  ch.bind('update', (d) => got.push(d.n));
  for (let n = 0; n < 20; n++) await env.server.trigger('news', 'update', { n });
  await env.server.triggerBatch(Array.from({ length: 10 }, (_, i) => ({ channel: 'news', name: 'update', data: { n: 20 + i } })));
  await waitFor('30 events', () => got.length >= 30);
  assert.deepEqual(got, Array.from({ length: 30 }, (_, i) => i));
});

test('private channels need the app signature; a wrong one is refused with 4009', async () => {
  const good = client('a');
  const ch = good.subscribe('private-orders');
  await subscribed(ch);
  const received = once(ch, 'created');
  await env.server.trigger('private-orders', 'created', { id: 7 });
  assert.deepEqual(await received, { id: 7 });

  const bad = client('b', {
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) => cb(null, { auth: `${APP.key}:${'0'.repeat(64)}` }),
    },
  });
  await connected(bad);
  const badCh = bad.subscribe('private-orders');
  const [subErr, connErr] = await Promise.all([once(badCh, 'pusher:subscription_error'), once(bad.connection, 'error')]);
  assert.equal(subErr.status, 401);
  assert.equal(errorCode(connErr), 4009);
  assert.equal(badCh.subscribed, false);
});

test('presence: members with user info, member_added and member_removed', async () => {
  const alice = client('alice');
  const room = alice.subscribe('presence-room-1');
  const members = await once(room, 'pusher:subscription_succeeded');
  assert.equal(members.count, 1);
  assert.equal(members.me.id, 'alice');
  assert.deepEqual(members.me.info, { name: 'User alice' });

  const added = once(room, 'pusher:member_added');
  const bob = client('bob');
  const bobRoom = bob.subscribe('presence-room-1');
  const bobMembers = await once(bobRoom, 'pusher:subscription_succeeded');
  assert.equal(bobMembers.count, 2);
  assert.deepEqual(bobMembers.get('alice').info, { name: 'User alice' });
  const m = await added;
  assert.deepEqual([m.id, m.info], ['bob', { name: 'User bob' }]);

  const removed = once(room, 'pusher:member_removed');
  bob.disconnect();
  assert.equal((await removed).id, 'bob');
  assert.equal(room.members.count, 1);
});

test('client events reach the other subscribers, not the sender, with user_id on presence', async () => {
  const a = client('carol');
  const b = client('dave');
  const [ca, cb] = [a.subscribe('presence-chat'), b.subscribe('presence-chat')];
  await Promise.all([subscribed(ca), subscribed(cb)]);
  const echoed = [];
  ca.bind('client-typing', (d) => echoed.push(d));
  const got = once(cb, 'client-typing', { withMeta: true });
  ca.trigger('client-typing', { typing: true });
  const [data, meta] = await got;
  assert.deepEqual(data, { typing: true });
  assert.equal(meta.user_id, 'carol');
  await sleep(300);
  assert.deepEqual(echoed, [], 'a client event is not echoed to its sender');
});

test('client events are refused on public channels and over the rate limit (4301)', async () => {
  const a = client('erin');
  await connected(a);
  const ch = a.subscribe('private-fast');
  await subscribed(ch);
  const errors = [];
  a.connection.bind('error', (e) => errors.push(errorCode(e)));
  for (let i = 0; i < 15; i++) ch.trigger('client-burst', { i });
  await waitFor('a 4301 error', () => errors.includes(4301));
  a.send_event('client-x', { a: 1 }, 'news');
  await waitFor('an error for a public channel (4300, never null)', () => errors.length >= 2 && errors.at(-1) === 4300);
});

test('socket_id excludes the triggering socket', async () => {
  const a = client('f');
  const b = client('g');
  const [ca, cb] = [a.subscribe('private-excl'), b.subscribe('private-excl')];
  await Promise.all([subscribed(ca), subscribed(cb)]);
  const gotA = [];
  const gotB = [];
  ca.bind('e', (d) => gotA.push(d.n));
  cb.bind('e', (d) => gotB.push(d.n));
  await env.server.trigger('private-excl', 'e', { n: 1 }, { socket_id: a.connection.socket_id });
  await env.server.trigger('private-excl', 'e', { n: 2 });
  await waitFor('both to B and the second to A', () => gotB.length === 2 && gotA.length === 1);
  assert.deepEqual(gotA, [2]);
  assert.deepEqual(gotB, [1, 2]);
});

test('encrypted channels: the app encrypts, herald relays, pusher-js (its Node build has nacl) decrypts', async () => {
  const p = client('h');
  const ch = p.subscribe('private-encrypted-vault');
  await subscribed(ch);
  const got = once(ch, 'secret');
  await env.server.trigger('private-encrypted-vault', 'secret', { code: 'x-42' });
  assert.deepEqual(await got, { code: 'x-42' });
});

test('REST: channels, channel info and presence users answer correctly; bad signatures get 401', async () => {
  const a = client('ivy');
  const ch = a.subscribe('presence-rest');
  await subscribed(ch);
  const list = await (await env.server.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })).json();
  assert.deepEqual(list.channels['presence-rest'], { user_count: 1 });
  assert.ok(Object.keys(list.channels).every((c) => c.startsWith('presence-')));
  const info = await (await env.server.get({ path: '/channels/presence-rest', params: { info: 'user_count,subscription_count' } })).json();
  assert.deepEqual(info, { occupied: true, user_count: 1, subscription_count: 1 });
  const empty = await (await env.server.get({ path: '/channels/nobody-here' })).json();
  assert.deepEqual(empty, { occupied: false });
  const users = await (await env.server.get({ path: '/channels/presence-rest/users' })).json();
  assert.deepEqual(users, { users: [{ id: 'ivy' }] });
  const { default: PusherServer } = await import('pusher');
  const wrong = new PusherServer({ ...APP, secret: 'wrong', host: '127.0.0.1', port: String(env.herald.port), useTLS: false });
  await assert.rejects(wrong.trigger('news', 'x', {}), (e) => e.status === 401);
  await assert.rejects(
    env.server.trigger('news', 'x', 'y'.repeat(10 * 1024 + 1)),
    (e) => e.status === 413,
  );
  const many = Array.from({ length: 11 }, () => ({ channel: 'news', name: 'x', data: '1' }));
  await assert.rejects(env.server.triggerBatch(many), (e) => e.status === 400);
});

test('sign-in, server-to-user events and terminating a user\'s connections', async () => {
  const p = client('judy');
  p.signin();
  const got = new Promise((r) => p.user.bind('notice', r));
  await waitFor('signed in', () => p.user.user_data?.id === 'judy');
  await waitFor('server-to-user channel', () => p.user.serverToUserChannel?.subscribed);
  await env.server.sendToUser('judy', 'notice', { text: 'for you' });
  assert.deepEqual(await got, { text: 'for you' });
  const err = once(p.connection, 'error');
  await env.server.terminateUserConnections('judy');
  assert.equal(errorCode(await err), 4009);
  await waitFor('disconnected for good', () => p.connection.state === 'disconnected');
  // pusher-js then calls close() on its bundled faye-websocket after the TCP
  // connection is already gone, which arms a 30 s timer nobody clears (a
  // client quirk, the same against Pusher): run with --test-force-exit.
});

test('cache channels: cache_miss first, then the last event for new subscribers', async () => {
  const a = client('k');
  const ch = a.subscribe('cache-scores');
  const miss = once(ch, 'pusher:cache_miss');
  await subscribed(ch);
  await miss;
  await env.server.trigger('cache-scores', 'score', { home: 1 });
  await env.server.trigger('cache-scores', 'score', { home: 2 });
  const b = client('l');
  const late = b.subscribe('cache-scores');
  const seen = [];
  late.bind('score', (d) => seen.push(d.home));
  await subscribed(late);
  await waitFor('the cached event', () => seen.length >= 1);
  await sleep(200);
  assert.deepEqual(seen, [2]);
});

test('one hub: Pusher triggers reach native Herald subscribers and native publishes reach pusher-js', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${env.herald.port}/ws`);
  const frames = [];
  ws.on('message', (m) => frames.push(JSON.parse(m.toString())));
  await once({ bind: (e, h) => ws.once('open', h), unbind() {} }, 'open');
  ws.send(JSON.stringify({ id: 1, op: 'connect' }));
  ws.send(JSON.stringify({ id: 2, op: 'subscribe', channel: 'pusher:mixed' }));
  await waitFor('native subscribe reply', () => frames.some((f) => f.id === 2 && f.result));
  await env.server.trigger('mixed', 'hello', { from: 'pusher' });
  const pub = await waitFor('native publication', () => frames.find((f) => f.push === 'publication'));
  assert.deepEqual(pub.data, { event: 'hello', data: { from: 'pusher' } });
  ws.close();

  const p = client('m');
  const ch = p.subscribe('mixed');
  await subscribed(ch);
  const viaEnvelope = once(ch, 'native-event');
  await env.herald.publish('pusher:mixed', { event: 'native-event', data: { from: 'herald' } });
  assert.deepEqual(await viaEnvelope, { from: 'herald' });
  const plain = once(ch, 'message');
  await env.herald.publish('pusher:mixed', { text: 'plain' });
  assert.deepEqual(await plain, { text: 'plain' });
});

test('webhooks arrive signed (validated by the SDK), retried after failures, for occupied, members, client events, cache miss, vacated', async () => {
  const p = client('nia');
  const q = client('oli');
  const [cp, cq] = [p.subscribe('presence-hooks'), q.subscribe('presence-hooks')];
  await Promise.all([subscribed(cp), subscribed(cq)]);
  cp.trigger('client-wave', { hi: 1 });
  p.unsubscribe('presence-hooks');
  q.unsubscribe('presence-hooks');
  const want = (name, extra = {}) => (e) => e.name === name && e.channel === 'presence-hooks' && Object.entries(extra).every(([k, v]) => e[k] === v);
  const all = () => env.webhooks.flatMap((h) => h.events);
  await waitFor('webhooks', () =>
    [
      want('channel_occupied'),
      want('member_added', { user_id: 'nia' }),
      want('member_added', { user_id: 'oli' }),
      want('client_event', { event: 'client-wave', user_id: 'nia', socket_id: p.connection.socket_id }),
      want('member_removed', { user_id: 'nia' }),
      want('member_removed', { user_id: 'oli' }),
      want('channel_vacated'),
    ].every((w) => all().some(w)),
  );
  assert.ok(env.webhooks.every((h) => h.valid), 'every webhook has a valid signature');
  assert.equal(env.hookFailures.seen, 2, 'the first two deliveries were refused and retried');
  assert.deepEqual(JSON.parse(all().find(want('client_event')).data), { hi: 1 });
  assert.ok(all().some((e) => e.name === 'cache_miss' && e.channel === 'cache-scores'));
});
