// Connection state recovery with the real socket.io-client 4.8: a dropped
// transport (a TCP proxy cuts every connection), publications while the
// client is away, and the reconnect: `socket.recovered === true` with exactly
// the missed publications, once, in order — or, when history cannot replay
// everything, `recovered === false` and nothing replayed.
// HERALD_TEST_REDIS_PREFIX set: the same across two nodes on Redis, the
// reconnect landing on the other node.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Herald, client, config, connected, next, request, sleep, tcpProxy, waitFor } from './harness.mjs';

const prefix = process.env.HERALD_TEST_REDIS_PREFIX;
const extra = `[namespaces.short]
history_size = 3
recovery_max = 3
${prefix ? `[broker]\nurl = "redis://127.0.0.1:6379"\nkey_prefix = "${prefix}"\nnode_heartbeat_secs = 1\nnode_ttl_secs = 3\n` : ''}`;

const nodes = [];
before(async () => {
  for (let i = 0; i < (prefix ? 2 : 1); i++) {
    const h = new Herald(config(extra));
    await h.start();
    nodes.push(h);
  }
});
after(async () => {
  for (const h of nodes) await h.close();
});

/** The publications seen on `socket` as [channel, offset, data]. */
function record(socket) {
  const seen = [];
  socket.on('message', (data, meta) => seen.push([meta.channel, meta.offset, data]));
  return seen;
}

/** Cut the client's transport with the proxy and wait until it noticed. */
async function drop(socket, proxy) {
  socket.io.reconnection(false);
  const gone = next(socket, 'disconnect');
  proxy.dropAll();
  await gone;
}

async function reconnect(socket) {
  socket.io.reconnection(true);
  socket.connect();
  await connected(socket);
}

const MODES = { websocket: { transports: ['websocket'] }, polling: { transports: ['polling'] }, default: {} };

if (prefix) {
  test("no sticky sessions: a polling request for the other node's session is served there", async () => {
    const [a, b] = nodes;
    const open = await fetch(`${a.base}/socket.io/?EIO=4&transport=polling`);
    const sid = JSON.parse((await open.text()).slice(1)).sid;
    // Through node B: CONNECT, then the poll that collects its answer.
    const post = await fetch(`${b.base}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '40' });
    assert.equal(post.status, 200);
    assert.equal(await post.text(), 'ok');
    const poll = await fetch(`${b.base}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
    assert.match(await poll.text(), /^40\{"sid":"[^"]+","pid":"[^"]+"\}$/);
    // A session no node holds is unknown: the client reconnects cleanly.
    const gone = await fetch(`${b.base}/socket.io/?EIO=4&transport=polling&sid=nonode-${sid}`);
    assert.equal(gone.status, 400);
    assert.deepEqual(await gone.json(), { code: 1, message: 'Session ID unknown' });
  });
}

for (const [mode, opts] of Object.entries(MODES)) {
  describe(`recovery (${mode}${prefix ? ', two nodes on Redis' : ''})`, () => {
    test('after a dropped transport: recovered, the missed publications exactly once', async () => {
      // Node 0 first; with two nodes the reconnect goes to node 1.
      const proxy = await tcpProxy(nodes.map((n) => n.port));
      const first = nodes[0];
      const last = nodes[nodes.length - 1];
      const s = client(proxy.url, `rec-${mode}`, opts);
      try {
        await connected(s);
        assert.equal(s.recovered, false);
        // With two nodes an upgrade may reach the other node: it fails and the client keeps polling.
        if (mode === 'default' && !prefix) await waitFor('the upgrade', () => s.io.engine.transport.name === 'websocket');
        const a = `chat:rec-${mode}-a`;
        const b = `chat:rec-${mode}-b`;
        const seen = record(s);
        for (const channel of [a, b]) assert.equal((await request(s, 'subscribe', { channel })).ok, true);
        await first.publish(a, 'a1');
        await first.publish(b, 'b1');
        await waitFor('the live publications', () => seen.length === 2);
        await drop(s, proxy);
        await last.publish(a, 'a2');
        await last.publish(b, 'b2');
        await last.publish(a, 'a3');
        if (prefix) {
          // Every further connection through the proxy goes to the last node.
          proxy.close();
          const direct = await tcpProxy([last.port]);
          s.io.uri = direct.url;
          s.io.engine = null;
          Object.assign(proxy, direct);
        }
        await reconnect(s);
        assert.equal(s.recovered, true, 'socket.recovered');
        await waitFor('the missed publications', () => seen.length >= 5);
        await sleep(200);
        assert.deepEqual(seen, [
          [a, 1, 'a1'],
          [b, 1, 'b1'],
          [a, 2, 'a2'],
          [a, 3, 'a3'],
          [b, 2, 'b2'],
        ]);
        // Live again on both channels, nothing twice.
        await first.publish(b, 'b3');
        await waitFor('a live publication after recovery', () => seen.length === 6);
        assert.deepEqual(seen[5], [b, 3, 'b3']);
      } finally {
        s.disconnect();
        proxy.close();
      }
    });

    test('history cannot replay everything: recovered is false and nothing is replayed', async () => {
      const proxy = await tcpProxy([nodes[0].port]);
      const s = client(proxy.url, `norec-${mode}`, opts);
      try {
        await connected(s);
        const channel = `short:norec-${mode}`;
        const seen = record(s);
        assert.equal((await request(s, 'subscribe', { channel })).ok, true);
        await nodes[0].publish(channel, 1);
        await waitFor('the live publication', () => seen.length === 1);
        await drop(s, proxy);
        for (let i = 2; i <= 6; i++) await nodes[0].publish(channel, i);
        await reconnect(s);
        assert.equal(s.recovered, false, 'socket.recovered');
        await sleep(300);
        assert.deepEqual(seen.map((x) => x[2]), [1]);
        // A fresh session: the app subscribes again.
        const r = await request(s, 'subscribe', { channel });
        assert.equal(r.ok, true);
        assert.equal(r.offset, 6);
      } finally {
        s.disconnect();
        proxy.close();
      }
    });
  });
}
