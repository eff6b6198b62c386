// Presence and history with the real `ably` client library (2.x), in
// MessagePack and JSON: enter/update/leave seen by others (and by a
// native Herald client as Herald presence), a late joiner's SYNC and
// presence.get(), leave when a connection drops; REST history with
// pagination, REST publish, /time and REST presence; rewind on attach.
// Run: HERALD_BIN=target/debug/herald node --test-force-exit presence.test.mjs
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ably, options, realtime, sleep, serve, waitFor } from './harness.mjs';

const env = serve();

const rest = (binary, extra) => new Ably.Rest(options(env.herald, binary, extra));

for (const binary of [true, false]) {
  const fmt = binary ? 'msgpack' : 'json';
  describe(`presence and history over ${fmt}`, () => {
    test('enter, update and leave reach other members; a late joiner gets them by SYNC and get()', async () => {
      const name = `chat:${fmt}-presence`;
      const ann = realtime(env.herald, binary, { clientId: 'ann' });
      const bob = realtime(env.herald, binary, { clientId: 'bob' });
      const seen = [];
      const bobCh = bob.channels.get(name);
      await bobCh.presence.subscribe((m) => seen.push([m.action, m.clientId, m.data]));
      const annCh = ann.channels.get(name);
      await annCh.presence.enter({ status: 'online' });
      await waitFor('enter', () => seen.length >= 1);
      await annCh.presence.update({ status: 'away' });
      await waitFor('update', () => seen.length >= 2);
      assert.deepEqual(seen.slice(0, 2), [
        ['enter', 'ann', { status: 'online' }],
        ['update', 'ann', { status: 'away' }],
      ]);
      // A late joiner: its members come by SYNC after ATTACHED.
      const cat = realtime(env.herald, binary, { clientId: 'cat' });
      const members = await cat.channels.get(name).presence.get();
      assert.deepEqual(members.map((m) => [m.clientId, m.data, m.action]), [['ann', { status: 'away' }, 'present']]);
      assert.equal(members[0].connectionId, ann.connection.id);
      await annCh.presence.leave();
      await waitFor('leave', () => seen.length >= 3);
      assert.deepEqual(seen[2].slice(0, 2), ['leave', 'ann']);
      assert.deepEqual(await bobCh.presence.get(), []);
    });

    test('a dropped connection leaves presence', async () => {
      const name = `chat:${fmt}-drop`;
      const watcher = realtime(env.herald, binary);
      const left = [];
      const ch = watcher.channels.get(name);
      await ch.presence.subscribe('leave', (m) => left.push(m.clientId));
      const dan = realtime(env.herald, binary, { clientId: 'dan' });
      await dan.channels.get(name).presence.enter('here');
      await waitFor('dan present', async () => (await ch.presence.get()).length === 1);
      // Cut the socket without a close: the server sees the transport drop.
      dan.connection.connectionManager.activeProtocol.getTransport().wsConnection.terminate();
      await waitFor('dan left', () => left.includes('dan'));
    });

    test('REST history pages backwards and forwards with Link rel="next"', async () => {
      const name = `chat:${fmt}-history`;
      const client = rest(binary);
      const ch = client.channels.get(name);
      for (let i = 0; i < 7; i++) await ch.publish('n', `m${i}`);
      let page = await ch.history({ limit: 3 });
      const back = page.items.map((m) => m.data);
      assert.ok(page.hasNext());
      while (page.hasNext()) {
        page = await page.next();
        back.push(...page.items.map((m) => m.data));
      }
      assert.deepEqual(back, ['m6', 'm5', 'm4', 'm3', 'm2', 'm1', 'm0']);
      const fwd = await ch.history({ limit: 4, direction: 'forwards' });
      assert.deepEqual(fwd.items.map((m) => m.data), ['m0', 'm1', 'm2', 'm3']);
      const rest2 = await fwd.next();
      assert.deepEqual(rest2.items.map((m) => m.data), ['m4', 'm5', 'm6']);
      assert.equal(fwd.items[0].name, 'n');
      assert.ok(fwd.items[0].timestamp > 0);
    });

    test('REST publish reaches realtime subscribers; /time; REST presence', async () => {
      const name = `chat:${fmt}-rest`;
      const sub = realtime(env.herald, binary, { clientId: 'eve' });
      const got = [];
      const ch = sub.channels.get(name);
      await ch.subscribe((m) => got.push([m.name, m.data]));
      await ch.presence.enter('in');
      const client = rest(binary);
      await client.channels.get(name).publish('greeting', { text: 'via rest' });
      await client.channels.get(name).publish([{ name: 'a', data: 'one' }, { name: 'b', data: Buffer.from([7, 8]) }]);
      await waitFor('3 messages', () => got.length === 3);
      assert.deepEqual(got[0], ['greeting', { text: 'via rest' }]);
      assert.deepEqual(got[1], ['a', 'one']);
      assert.deepEqual([...new Uint8Array(got[2][1])], [7, 8]);
      const t = await client.time();
      assert.ok(Math.abs(t - Date.now()) < 5000);
      const members = await client.channels.get(name).presence.get();
      assert.deepEqual(members.items.map((m) => [m.clientId, m.data]), [['eve', 'in']]);
    });

    test('rewind replays the last messages before live ones, from params or the name qualifier', async () => {
      const name = `chat:${fmt}-rewind`;
      const pub = rest(binary).channels.get(name);
      for (let i = 0; i < 5; i++) await pub.publish('r', `r${i}`);
      const c = realtime(env.herald, binary);
      const got = [];
      await c.channels.get(name, { params: { rewind: '3' } }).subscribe((m) => got.push(m.data));
      await waitFor('3 rewound', () => got.length === 3);
      await pub.publish('r', 'live');
      await waitFor('live', () => got.length === 4);
      assert.deepEqual(got, ['r2', 'r3', 'r4', 'live']);
      const q = [];
      await c.channels.get(`[?rewind=2]${name}`).subscribe((m) => q.push(m.data));
      await waitFor('2 rewound', () => q.length === 2);
      assert.deepEqual(q, ['r4', 'live']);
      const timed = [];
      await c.channels.get(name + '-none', { params: { rewind: '10s' } }).subscribe((m) => timed.push(m));
      await sleep(200);
      assert.deepEqual(timed, []);
    });
  });
}
