// The Socket.IO door with the real, unmodified socket.io-client 4.8 against
// a running herald, on each transport: WebSocket only, polling only, and the
// default (polling, then the upgrade to WebSocket). Run by
// `cargo test -p herald-server --test socketio_js`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { io } from 'socket.io-client';
import { client, connected, next, request, startHerald, token, waitFor } from './harness.mjs';

let herald;
before(async () => {
  herald = await startHerald();
});
after(async () => {
  await herald?.close();
});

const MODES = {
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'] },
  default: {},
};

for (const [mode, opts] of Object.entries(MODES)) {
  describe(`transport: ${mode}`, () => {
    const open = [];
    const sock = async (sub, extra = {}) => {
      const s = client(herald.base, sub, { ...opts, ...extra });
      open.push(s);
      await connected(s);
      if (mode === 'default') await waitFor('the upgrade to websocket', () => s.io.engine.transport.name === 'websocket');
      return s;
    };
    after(() => open.forEach((s) => s.disconnect()));

    test('the transport is the one asked for', async () => {
      const s = await sock('t-user');
      const wanted = mode === 'polling' ? 'polling' : 'websocket';
      assert.equal(s.io.engine.transport.name, wanted);
      assert.ok(s.id, 'socket.id is set');
    });

    test('subscribe, publish with an event name, message events, acks', async () => {
      const channel = `chat:${mode}-acks`;
      const a = await sock('alice');
      const b = await sock('bob');
      const sub = await request(b, 'subscribe', { channel });
      assert.equal(sub.ok, true);
      assert.equal(sub.channel, channel);
      assert.equal(typeof sub.epoch, 'string');
      assert.equal(sub.offset, 0);
      const greeted = next(b, 'greet');
      const pub = await request(a, 'publish', { channel, event: 'greet', data: { hi: 1 } });
      assert.equal(pub.ok, true);
      assert.equal(pub.offset, 1);
      const [data, meta] = await greeted;
      assert.deepEqual(data, { hi: 1 });
      assert.equal(meta.channel, channel);
      assert.equal(meta.offset, 1);
      assert.equal(meta.epoch, sub.epoch);
      const message = next(b, 'message');
      assert.equal((await request(a, 'publish', { channel, data: { text: 'plain' } })).ok, true);
      const [mdata, mmeta] = await message;
      assert.deepEqual(mdata, { text: 'plain' });
      assert.equal(mmeta.offset, 2);
      assert.deepEqual(await request(b, 'unsubscribe', { channel }), { ok: true });
      const again = await request(b, 'unsubscribe', { channel });
      assert.equal(again.ok, false);
      assert.equal(typeof again.error.code, 'number');
    });

    test('100 publishes arrive in order at another socket', async () => {
      const channel = `chat:${mode}-order`;
      const a = await sock('alice');
      const b = await sock('bob');
      assert.equal((await request(b, 'subscribe', { channel })).ok, true);
      const got = [];
      const all = new Promise((resolve) =>
        b.on('n', (data, meta) => {
          got.push([data, meta.offset]);
          if (got.length === 100) resolve();
        }),
      );
      const acks = [];
      for (let i = 1; i <= 100; i++) acks.push(request(a, 'publish', { channel, event: 'n', data: i }));
      const offsets = (await Promise.all(acks)).map((r) => r.offset);
      await all;
      assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => [i + 1, i + 1]));
      assert.deepEqual(offsets.sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i + 1));
    });

    test('HTTP API publications arrive as named events', async () => {
      const channel = `chat:${mode}-api`;
      const b = await sock('bob');
      assert.equal((await request(b, 'subscribe', { channel })).ok, true);
      const named = next(b, 'order.shipped');
      await herald.publish(channel, { event: 'order.shipped', data: { id: 7 } });
      const [data, meta] = await named;
      assert.deepEqual(data, { id: 7 });
      assert.equal(meta.channel, channel);
      const plain = next(b, 'message');
      await herald.publish(channel, [1, 2, 3]);
      assert.deepEqual((await plain)[0], [1, 2, 3]);
    });

    test('a channel outside the grant is refused in the ack', async () => {
      const a = await sock('alice');
      const r = await request(a, 'subscribe', { channel: 'secret:vault' });
      assert.equal(r.ok, false);
      assert.equal(r.error.code, 103);
      const p = await request(a, 'publish', { channel: 'secret:vault', data: 1 });
      assert.equal(p.ok, false);
      assert.equal(p.error.code, 103);
      const bad = await request(a, 'subscribe', { channel: 'no spaces' });
      assert.equal(bad.ok, false);
      const unknown = await request(a, 'dance', {});
      assert.equal(unknown.error.code, 104);
      // The socket still works.
      assert.equal((await request(a, 'subscribe', { channel: `chat:${mode}-still` })).ok, true);
    });

    test('broadcast: an ephemeral named event to the other subscribers; binary arguments refused', async () => {
      const channel = `chat:${mode}-ephemeral`;
      const a = await sock('alice');
      const b = await sock('bob');
      for (const s of [a, b]) assert.equal((await request(s, 'subscribe', { channel })).ok, true);
      const cursor = next(b, 'cursor');
      assert.deepEqual(await request(a, 'broadcast', { channel, event: 'cursor', data: { x: 3 } }), { ok: true });
      const [data, meta] = await cursor;
      assert.deepEqual(data, { x: 3 });
      assert.equal(meta.channel, channel);
      assert.equal(meta.ephemeral, true);
      assert.equal(meta.from.user, 'alice');
      // A binary argument travels as a BINARY_EVENT with an attachment: refused with 113.
      const bin = await request(a, 'publish', { channel, data: new Uint8Array([1, 2, 3]) });
      assert.equal(bin.ok, false);
      assert.equal(bin.error.code, 113);
      // Nothing was stored: the next publication is offset 1.
      assert.equal((await request(a, 'publish', { channel, data: 'after' })).offset, 1);
    });

    test('presence members and join events', async () => {
      const channel = `room:${mode}-presence`;
      const a = await sock('alice');
      const b = await sock('bob');
      assert.equal((await request(a, 'subscribe', { channel })).ok, true);
      const joined = next(a, 'herald:join');
      assert.equal((await request(b, 'subscribe', { channel })).ok, true);
      const [join] = await joined;
      assert.equal(join.channel, channel);
      assert.equal(join.member.user, 'bob');
      const r = await request(a, 'presence', { channel });
      assert.equal(r.ok, true);
      assert.deepEqual(r.members.map((m) => m.user).sort(), ['alice', 'bob']);
    });

    test('a bad token is refused with connect_error; no token is an anonymous socket', async () => {
      const bad = io(herald.base, { ...opts, auth: { token: 'not-a-jwt' }, forceNew: true, reconnection: false });
      const [err] = await next(bad, 'connect_error');
      assert.equal(err.data.code, 101);
      assert.equal(bad.connected, false);
      bad.disconnect();
      const expired = io(herald.base, { ...opts, auth: { token: 1 }, forceNew: true, reconnection: false });
      const [err2] = await next(expired, 'connect_error');
      assert.equal(err2.data.code, 107);
      expired.disconnect();
      // Without a token, as on every door: anonymous, and the grants decide.
      const none = io(herald.base, { ...opts, forceNew: true, reconnection: false });
      open.push(none);
      await connected(none);
      const r = await request(none, 'subscribe', { channel: `chat:${mode}-anon` });
      assert.equal(r.ok, false);
      // The `token` query parameter works too.
      const q = io(herald.base, { ...opts, query: { token: token('query-user') }, forceNew: true, reconnection: false });
      open.push(q);
      await connected(q);
    });

    test('another namespace is refused', async () => {
      const s = io(`${herald.base}/admin`, { ...opts, auth: { token: token('x') }, forceNew: true, reconnection: false });
      const [err] = await next(s, 'connect_error');
      assert.equal(err.message, 'Invalid namespace');
      s.disconnect();
    });
  });
}
