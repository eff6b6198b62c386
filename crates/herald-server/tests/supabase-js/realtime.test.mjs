// The real @supabase/realtime-js (2.x) against herald: broadcast (self,
// ack, order, both serializers, binary pushes), the HTTP API and the native
// protocol on the same channels, presence across two clients and native
// members, and the Phoenix protocol's edges (heartbeat, unmatched topic,
// leave, bad frames). Run: HERALD_BIN=target/debug/herald node --test realtime.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WebSocket, client, native, sleep, startHerald, subscribe, subscribed, waitFor } from './harness.mjs';

let herald;
const clients = [];
const open = (opts) => {
  const c = client(herald, opts);
  clients.push(c);
  return c;
};

before(async () => {
  herald = await startHerald();
});

after(async () => {
  for (const c of clients) c.disconnect();
  await herald.close();
});

const range = (n) => [...Array(n).keys()];

for (const vsn of ['2.0.0', '1.0.0']) {
  test(`broadcast with self and ack arrives in order at both clients (vsn ${vsn})`, async () => {
    const [a, b] = [open({ vsn }), open({ vsn })];
    const topic = `room-${vsn}`;
    const [gotA, gotB] = [[], []];
    const ca = a
      .channel(topic, { config: { broadcast: { self: true, ack: true } } })
      .on('broadcast', { event: 'cursor' }, (m) => gotA.push(m.payload.n));
    const cb = b.channel(topic).on('broadcast', { event: 'cursor' }, (m) => gotB.push(m.payload.n));
    await subscribed(ca);
    await subscribed(cb);
    for (const n of range(30)) {
      assert.equal(await ca.send({ type: 'broadcast', event: 'cursor', payload: { n } }), 'ok');
    }
    await waitFor('every broadcast at both', () => gotA.length === 30 && gotB.length === 30);
    assert.deepEqual(gotA, range(30));
    assert.deepEqual(gotB, range(30));

    // Without `self`, the sender does not get its own broadcasts back.
    const before = gotA.length;
    await cb.send({ type: 'broadcast', event: 'cursor', payload: { n: 100 } });
    await waitFor('the other client', () => gotA.length === before + 1);
    await sleep(200);
    assert.equal(gotB.length, 30);
  });
}

test('the HTTP API reaches realtime-js, and realtime-js reaches native subscribers', async () => {
  const a = open();
  const news = [];
  const ca = a.channel('mixed').on('broadcast', { event: 'news' }, (m) => news.push(m.payload));
  const any = [];
  ca.on('broadcast', { event: '*' }, (m) => any.push(m.event));
  await subscribed(ca);
  await herald.publish('realtime:mixed', { event: 'news', data: { title: 'from the API' } });
  await herald.publish('realtime:mixed', { plain: true });
  await waitFor('the API publications', () => news.length === 1 && any.length === 2);
  assert.deepEqual(news, [{ title: 'from the API' }]);
  assert.deepEqual(any, ['news', 'message']);

  const n = await native(herald);
  await n.request({ op: 'subscribe', channel: 'realtime:mixed' });
  await ca.send({ type: 'broadcast', event: 'wave', payload: { from: 'realtime-js' } });
  const pub = await waitFor('the native publication', () => n.frames.find((f) => f.push === 'publication'));
  assert.equal(pub.channel, 'realtime:mixed');
  assert.deepEqual(pub.data, { event: 'wave', data: { from: 'realtime-js' } });
  n.close();
});

test('the other WebSocket path serves the same channels, and its REST broadcast (/api/broadcast) too', async () => {
  const a = open({ path: '/socket' });
  const got = [];
  const ca = a.channel('paths').on('broadcast', { event: 'e' }, (m) => got.push(m.payload));
  await subscribed(ca);
  await herald.publish('realtime:paths', { event: 'e', data: 1 });
  await waitFor('the publication', () => got.length === 1);
  // realtime-js posts to /api/broadcast for a URL ending in /socket; Herald's
  // own /api/broadcast body ({"channels","data"}) still works there.
  assert.deepEqual(await ca.httpSend('e', 2), { success: true });
  const r = await fetch(`${herald.base}/api/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ channels: ['realtime:paths'], data: { event: 'e', data: 3 } }),
  });
  assert.equal(r.status, 200);
  await waitFor('both REST broadcasts', () => got.length === 3);
  assert.deepEqual(got, [1, 2, 3]);
});

test('presence: track, sync, join and leave across two clients and a native member', async () => {
  const [a, b] = [open(), open()];
  const joins = [];
  const leaves = [];
  let syncs = 0;
  const ca = a
    .channel('lobby', { config: { presence: { key: 'alice' } } })
    .on('presence', { event: 'sync' }, () => syncs++)
    .on('presence', { event: 'join' }, ({ key, newPresences }) => joins.push([key, newPresences[0]?.name]))
    .on('presence', { event: 'leave' }, ({ key }) => leaves.push(key));
  await subscribed(ca);
  await waitFor('the first sync (presence_state)', () => syncs >= 1);
  assert.deepEqual(ca.presenceState(), {});
  assert.equal(await ca.track({ name: 'Alice' }), 'ok');
  await waitFor('alice sees her own join', () => joins.some(([k]) => k === 'alice'));

  const cb = b.channel('lobby', { config: { presence: { key: 'bob' } } }).on('presence', { event: 'sync' }, () => {});
  await subscribed(cb);
  await waitFor('bob sees alice', () => cb.presenceState().alice?.[0]?.name === 'Alice');
  assert.ok(cb.presenceState().alice[0].presence_ref, 'metas carry a presence_ref');
  assert.equal(await cb.track({ name: 'Bob' }), 'ok');
  await waitFor('alice sees bob', () => ca.presenceState().bob?.[0]?.name === 'Bob');

  // Supabase presence is Herald presence: a native client sees both members.
  const n = await native(herald);
  await n.request({ op: 'subscribe', channel: 'realtime:lobby' });
  const members = await n.request({ op: 'presence', channel: 'realtime:lobby' });
  const keys = JSON.stringify(members);
  assert.ok(keys.includes('alice') && keys.includes('bob'), keys);
  // … and realtime-js sees the native member.
  const nativeKey = await waitFor('a third presence', () => Object.keys(ca.presenceState()).find((k) => k !== 'alice' && k !== 'bob'));
  n.close();
  await waitFor('the native member leaves', () => leaves.includes(nativeKey));

  // A second track updates the payload in place.
  await cb.track({ name: 'Bobby' });
  await waitFor('the update', () => ca.presenceState().bob?.[0]?.name === 'Bobby');
  assert.equal(ca.presenceState().bob.length, 1);

  assert.equal(await cb.untrack(), 'ok');
  await waitFor('bob leaves on untrack', () => leaves.includes('bob') && !ca.presenceState().bob);
  await cb.track({ name: 'Bob again' });
  await waitFor('bob is back', () => ca.presenceState().bob?.[0]?.name === 'Bob again');
  b.disconnect();
  await waitFor('bob leaves on disconnect', () => !ca.presenceState().bob);
  assert.deepEqual(Object.keys(ca.presenceState()), ['alice']);
});

/** A raw vsn 2 socket, to see exactly what herald answers. */
async function raw(path = '/realtime/v1/websocket?apikey=k&vsn=2.0.0') {
  const ws = new WebSocket(`ws://127.0.0.1:${herald.port}${path}`);
  const got = [];
  ws.on('message', (m, binary) => got.push(binary ? { binary: true } : JSON.parse(m.toString())));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  return { ws, got, reply: (ref) => waitFor(`reply ${ref}`, () => got.find((m) => m[1] === ref && m[3] === 'phx_reply')) };
}

test('Phoenix edges: heartbeat, unmatched topic, leave then phx_close, presence_state after join', async () => {
  const s = await raw();
  s.ws.send(JSON.stringify([null, '1', 'phoenix', 'heartbeat', {}]));
  assert.deepEqual((await s.reply('1'))[4], { status: 'ok', response: {} });
  s.ws.send(JSON.stringify(['9', '2', 'realtime:nowhere', 'broadcast', { type: 'broadcast', event: 'x', payload: {} }]));
  assert.deepEqual((await s.reply('2'))[4], { status: 'error', response: { reason: 'unmatched topic' } });
  s.ws.send(JSON.stringify(['3', '3', 'realtime:edge', 'phx_join', { config: { unknown: true } }]));
  const join = await s.reply('3');
  assert.equal(join[0], '3');
  assert.deepEqual(join[4], { status: 'ok', response: { postgres_changes: [] } });
  const state = await waitFor('presence_state', () => s.got.find((m) => m[3] === 'presence_state'));
  assert.deepEqual(state.slice(0, 3), ['3', null, 'realtime:edge']);
  assert.ok(s.got.indexOf(state) > s.got.indexOf(join), 'presence_state follows the join reply');
  s.ws.send(JSON.stringify(['3', '4', 'realtime:edge', 'phx_leave', {}]));
  assert.equal((await s.reply('4'))[4].status, 'ok');
  await waitFor('phx_close', () => s.got.find((m) => m[3] === 'phx_close' && m[2] === 'realtime:edge'));
  s.ws.send(JSON.stringify(['3', '5', 'realtime:edge', 'broadcast', { type: 'broadcast', event: 'x', payload: {} }]));
  assert.equal((await s.reply('5'))[4].response.reason, 'unmatched topic');
  s.ws.close();
});

test('bad frames are answered without harm: garbage text, bad binary headers, oversized topics', async () => {
  const s = await raw();
  s.ws.send('garbage');
  s.ws.send('[1,2]');
  s.ws.send(Buffer.from([3, 200, 0, 0, 0, 0, 1]));
  s.ws.send(Buffer.from([9, 1, 2, 3]));
  s.ws.send(Buffer.from([]));
  s.ws.send(JSON.stringify(['1', '1', `realtime:${'x'.repeat(5000)}`, 'phx_join', {}]));
  await waitFor('an error per bad frame', () => s.got.filter((m) => m[2] === 'phoenix' && m[4]?.status === 'error').length >= 6);
  s.ws.send(JSON.stringify([null, '7', 'phoenix', 'heartbeat', {}]));
  assert.equal((await s.reply('7'))[4].status, 'ok', 'the socket still works');
  assert.ok(!s.got.some((m) => m.binary), 'herald answers with text frames only');
  s.ws.close();
  // And realtime-js clients on the server are unaffected.
  const a = open();
  await subscribed(a.channel('after-bad-frames'));
});

test('a socket without apikey or with an unknown vsn is refused before the upgrade', async () => {
  for (const [q, want] of [['vsn=2.0.0', 401], ['apikey=k&vsn=3.0.0', 400]]) {
    const ws = new WebSocket(`ws://127.0.0.1:${herald.port}/realtime/v1/websocket?${q}`);
    const status = await new Promise((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.on('open', () => resolve('open'));
      ws.on('error', () => {});
    });
    assert.equal(status, want, q);
    ws.terminate();
  }
});

test('a socket silent past the heartbeat timeout is closed and its presence leaves', async () => {
  const h = await startHerald('[supabase]\nheartbeat_timeout_secs = 1\n');
  try {
    // realtime-js beats every 300 ms here, so it stays.
    const watcher = client(h, { heartbeatIntervalMs: 300 });
    clients.push(watcher);
    const ch = watcher.channel('beats').on('presence', { event: 'sync' }, () => {});
    await subscribed(ch);
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/realtime/v1/websocket?apikey=k&vsn=2.0.0`);
    const closed = new Promise((r) => ws.once('close', (code) => r(code)));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify(['1', '1', 'realtime:beats', 'phx_join', { config: { presence: { key: 'silent' } } }]));
    ws.send(JSON.stringify(['1', '2', 'realtime:beats', 'presence', { type: 'presence', event: 'track', payload: { x: 1 } }]));
    await waitFor('the silent member', () => ch.presenceState().silent);
    const started = Date.now();
    assert.ok(typeof (await closed) === 'number');
    assert.ok(Date.now() - started < 5000, 'closed after about a second');
    await waitFor('its leave', () => !ch.presenceState().silent);
    await sleep(1500);
    assert.equal(ch.state, 'joined', 'a beating client stays');
  } finally {
    await h.close();
  }
});

test('after a server restart realtime-js reconnects and its channel is rejoined', async () => {
  const a = open();
  const got = [];
  const ch = a.channel('survivor').on('broadcast', { event: 'after' }, (m) => got.push(m.payload));
  await subscribed(ch);
  await herald.restart();
  // Publish until the rejoined channel receives (the reconnect backs off 1 s, 2 s, …).
  await waitFor(
    'a broadcast after the restart',
    async () => {
      if (ch.state === 'joined') await herald.publish('realtime:survivor', { event: 'after', data: { n: 1 } });
      return got.length > 0;
    },
    30000,
  );
  assert.deepEqual(got[0], { n: 1 });
});
