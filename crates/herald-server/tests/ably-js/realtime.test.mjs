// The real `ably` client library (2.x) against herald's Ably door, with
// MessagePack (the Node default) and with JSON (`useBinaryProtocol:false`):
// key auth, CONNECTED details, publish with ACK, 50 in order, echo off,
// binary data, cross-door delivery both ways, refusals (wrong secret
// 40101, capability 40160), detach.
// Run: HERALD_BIN=target/debug/herald node --test-force-exit realtime.test.mjs
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ably, KEY, RO_KEY, nativeSubscriber, options, realtime, sleep, serve, state, waitFor } from './harness.mjs';

const env = serve();

for (const binary of [true, false]) {
  const fmt = binary ? 'msgpack' : 'json';
  describe(`realtime over ${fmt}`, () => {
    test('connects with a key and gets its connection details', async () => {
      const c = realtime(env.herald, binary, { clientId: 'ann' });
      await state(c, 'connected');
      assert.ok(c.connection.id, 'connectionId');
      assert.ok(c.connection.key, 'connectionKey');
      assert.equal(c.auth.clientId, 'ann');
    });

    test('publish is acknowledged and delivered with id, connectionId, timestamp, clientId and data', async () => {
      const a = realtime(env.herald, binary, { clientId: 'ann' });
      const b = realtime(env.herald, binary);
      const name = `chat:${fmt}-basic`;
      const got = [];
      await b.channels.get(name).subscribe('greeting', (m) => got.push(m));
      await a.channels.get(name).publish('greeting', { text: 'hi' });
      await waitFor('the message', () => got.length === 1);
      const m = got[0];
      assert.equal(m.name, 'greeting');
      assert.deepEqual(m.data, { text: 'hi' });
      assert.equal(m.clientId, 'ann');
      assert.equal(m.connectionId, a.connection.id);
      assert.ok(m.id, 'id');
      assert.ok(Math.abs(m.timestamp - Date.now()) < 10000, 'timestamp');
      assert.equal(m.encoding ?? null, null, 'decoded');
    });

    test('50 messages arrive in order, strings and binary data intact', async () => {
      const a = realtime(env.herald, binary);
      const b = realtime(env.herald, !binary);
      const name = `chat:${fmt}-order`;
      const got = [];
      await b.channels.get(name).subscribe((m) => got.push(m));
      const ch = a.channels.get(name);
      await Promise.all(Array.from({ length: 50 }, (_, i) => ch.publish('n', `#${i}`)));
      await ch.publish('bin', Buffer.from([0, 1, 2, 250, 255]));
      await waitFor('51 messages', () => got.length === 51);
      assert.deepEqual(got.slice(0, 50).map((m) => m.data), Array.from({ length: 50 }, (_, i) => `#${i}`));
      const bin = got[50].data;
      assert.ok(bin instanceof ArrayBuffer || ArrayBuffer.isView(bin) || Buffer.isBuffer(bin), `binary: ${typeof bin}`);
      assert.deepEqual([...new Uint8Array(bin.buffer ? bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) : bin)], [0, 1, 2, 250, 255]);
    });

    test('echoMessages:false keeps a connection from receiving its own messages', async () => {
      const a = realtime(env.herald, binary, { echoMessages: false });
      const b = realtime(env.herald, binary);
      const name = `chat:${fmt}-echo`;
      const mine = [];
      const theirs = [];
      await a.channels.get(name).subscribe((m) => mine.push(m.data));
      await b.channels.get(name).subscribe((m) => theirs.push(m.data));
      await a.channels.get(name).publish('x', 'from a');
      await b.channels.get(name).publish('x', 'from b');
      await waitFor('both at b', () => theirs.length === 2);
      await waitFor('b at a', () => mine.length === 1);
      await sleep(200);
      assert.deepEqual(mine, ['from b']);
    });

    test('POST /api/publish {"event","data"} reaches Ably subscribers as that message name', async () => {
      const c = realtime(env.herald, binary);
      const name = `chat:${fmt}-cross-in`;
      const got = [];
      await c.channels.get(name).subscribe('news', (m) => got.push(m.data));
      const r = await fetch(`${env.herald.base}/api/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: name, data: { event: 'news', data: { headline: 'ok' } } }),
      });
      assert.equal(r.status, 200, await r.text());
      await waitFor('the news', () => got.length === 1);
      assert.deepEqual(got[0], { headline: 'ok' });
    });

    test('an Ably publish reaches a native Herald subscriber as {event, data}', async () => {
      const name = `chat:${fmt}-cross-out`;
      const native = await nativeSubscriber(env.herald, name);
      const c = realtime(env.herald, binary);
      await c.channels.get(name).publish('greeting', { text: 'to native' });
      await waitFor('the native delivery', () => native.got.length === 1);
      assert.equal(native.got[0].event, 'greeting');
      assert.deepEqual(native.got[0].data, { text: 'to native' });
      native.close();
    });

    test('a wrong secret is refused with 40101 and the connection fails', async () => {
      const c = new Ably.Realtime(options(env.herald, binary, { key: 'app.key:wrong' }));
      const failed = new Promise((r) => c.connection.once('failed', r));
      const change = await failed;
      assert.equal(change.reason?.code, 40101);
      c.close();
    });

    test('attaching without the capability fails the channel with 40160; allowed channels attach', async () => {
      const c = realtime(env.herald, binary, { key: RO_KEY });
      const denied = c.channels.get('news');
      await assert.rejects(denied.attach(), (e) => e.code === 40160);
      assert.equal(denied.state, 'failed');
      const ok = c.channels.get(`chat:${fmt}-ro`);
      await ok.attach();
      assert.equal(ok.state, 'attached');
      assert.deepEqual(ok.modes, ['subscribe']);
      await assert.rejects(ok.publish('x', 'no'), (e) => e.code === 40160);
      assert.equal(c.connection.state, 'connected');
    });

    test('detach stops delivery', async () => {
      const a = realtime(env.herald, binary);
      const b = realtime(env.herald, binary);
      const name = `chat:${fmt}-detach`;
      const got = [];
      const ch = b.channels.get(name);
      await ch.subscribe((m) => got.push(m.data));
      await a.channels.get(name).publish('x', 'one');
      await waitFor('first', () => got.length === 1);
      await ch.detach();
      assert.equal(ch.state, 'detached');
      await a.channels.get(name).publish('x', 'two');
      await sleep(300);
      assert.deepEqual(got, ['one']);
    });
  });
}

test('the key from HERALD_ABLY_KEY has every right; GET / without an upgrade is still 404', async () => {
  const c = realtime(env.herald, true, { key: KEY });
  const ch = c.channels.get('anything');
  await ch.attach();
  assert.deepEqual(ch.modes.sort(), ['presence', 'presence_subscribe', 'publish', 'subscribe']);
  assert.equal((await fetch(`${env.herald.base}/`)).status, 404);
  assert.equal((await fetch(`${env.herald.base}/healthz`)).status, 200);
});
