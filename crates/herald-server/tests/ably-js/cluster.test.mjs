// Resume across the nodes of a cluster (`--broker` on Redis), with the real
// `ably` client library (2.x): a connection cut from node A comes back
// through node B with the same connectionId and exactly the messages it
// missed; its resume state is taken once (a second resume with the same
// key is a new connection, 80008).
// Run by tests/ably_js.rs with HERALD_TEST_REDIS_PREFIX (a key prefix of its own).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Ably, KEY, closeAll, options, proxy, realtime, start, state, waitFor } from './harness.mjs';

const prefix = process.env.HERALD_TEST_REDIS_PREFIX;
if (!prefix) throw new Error('set HERALD_TEST_REDIS_PREFIX (tests/ably_js.rs does)');
const redisUrl = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const nodes = [];
async function node() {
  const h = await start(`[broker]\nurl = "${redisUrl}"\nkey_prefix = "${prefix}"\n`);
  nodes.push(h);
  return h;
}

after(async () => {
  closeAll();
  for (const n of nodes) await n.close();
});

test('a connection cut from one node resumes through another with the missed messages', async () => {
  const [a, b] = [await node(), await node()];
  const gate = await proxy(a);
  const c = realtime(a, true, { port: gate.port, disconnectedRetryTimeout: 300, clientId: 'roamer' });
  const got = [];
  const name = 'chat:roaming';
  await c.channels.get(name).subscribe((m) => got.push(m.data));
  const pub = new Ably.Rest(options(b, true)).channels.get(name);
  await pub.publish('m', 'before');
  await waitFor('before', () => got.length === 1);
  const id = c.connection.id;
  const key = c.connection.key;
  gate.cut();
  await state(c, 'disconnected');
  for (let i = 0; i < 3; i++) await pub.publish('m', `missed${i}`);
  gate.restore(b);
  await state(c, 'connected', 15000);
  await pub.publish('m', 'after');
  await waitFor('after', () => got.includes('after'));
  assert.equal(c.connection.id, id, 'same connectionId on the other node');
  assert.deepEqual(got, ['before', 'missed0', 'missed1', 'missed2', 'after']);

  // Node B took the resume state: while the connection lives there, its key resumes nothing on node A.
  const ws = new (await import('ws')).default(`ws://127.0.0.1:${a.port}/?key=${encodeURIComponent(KEY)}&clientId=roamer&format=json&resume=${encodeURIComponent(key)}`);
  const first = await new Promise((resolve, reject) => {
    ws.once('message', (d) => resolve(JSON.parse(d.toString())));
    ws.once('error', reject);
  });
  ws.close();
  assert.equal(first.action, 4);
  assert.equal(first.error?.code, 80008);
  assert.notEqual(first.connectionId, id);
  gate.close();
});
