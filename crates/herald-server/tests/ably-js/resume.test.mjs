// Resume with the real `ably` client library (2.x), in MessagePack and
// JSON: a cut transport resumes with the same connectionId and exactly the
// messages missed meanwhile (and its presence member is back); when herald cannot resume (it restarted), a
// new connection with error 80008 and channels re-attached without RESUMED.
// Run: HERALD_BIN=target/debug/herald node --test-force-exit resume.test.mjs
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ably, options, proxy, realtime, sleep, serve, state, waitFor } from './harness.mjs';

const env = serve();


for (const binary of [true, false]) {
  const fmt = binary ? 'msgpack' : 'json';
  describe(`resume over ${fmt}`, () => {
    test('a cut connection resumes with the same connectionId and exactly the missed messages', async () => {
      const name = `chat:${fmt}-resume`;
      const gate = await proxy(env.herald);
      const c = realtime(env.herald, binary, { port: gate.port, disconnectedRetryTimeout: 300, clientId: `r-${fmt}` });
      const got = [];
      const ch = c.channels.get(name);
      await ch.subscribe((m) => got.push(m.data));
      await ch.presence.enter('here');
      const pub = new Ably.Rest(options(env.herald, binary)).channels.get(name);
      await pub.publish('m', 'before');
      await waitFor('before', () => got.length === 1);
      await state(c, 'connected');
      const id = c.connection.id;
      gate.cut();
      await state(c, 'disconnected');
      for (let i = 0; i < 5; i++) await pub.publish('m', `missed${i}`);
      assert.deepEqual(got, ['before'], 'nothing arrives while cut');
      gate.restore();
      await state(c, 'connected', 15000);
      await pub.publish('m', 'after');
      await waitFor('after', () => got.includes('after'));
      await sleep(300);
      assert.equal(c.connection.id, id, 'same connectionId');
      // The member left with the transport and ably-js re-entered it on re-attach.
      await waitFor('the member back', async () => (await pub.presence.get()).items.some((m) => m.clientId === `r-${fmt}`));
      assert.deepEqual(got, ['before', 'missed0', 'missed1', 'missed2', 'missed3', 'missed4', 'after']);
      gate.close();
    });
  });
}

test('when herald cannot resume, a new connection with 80008 and channels re-attached without RESUMED', async () => {
  const name = 'chat:restart';
  const c = realtime(env.herald, true, { disconnectedRetryTimeout: 500 });
  const ch = c.channels.get(name);
  const changes = [];
  await ch.subscribe(() => {});
  ch.on((change) => changes.push(change));
  await state(c, 'connected');
  const id = c.connection.id;
  const reasons = [];
  c.connection.on((change) => change.reason && reasons.push(change.reason.code));
  await env.herald.restart('SIGKILL');
  await waitFor('a new connection', () => c.connection.state === 'connected' && c.connection.id !== id, 20000);
  await waitFor('80008', () => reasons.includes(80008), 5000).catch(() => {
    throw new Error(`reasons ${reasons}`);
  });
  await waitFor('re-attached', () => ch.state === 'attached' && changes.some((x) => x.current === 'attached' || x.current === 'update'));
  assert.ok(changes.every((x) => !x.resumed), `no RESUMED: ${JSON.stringify(changes)}`);
});
