// postgres_changes with the real @supabase/realtime-js against herald's
// change feed on a real PostgreSQL (HERALD_TEST_PG_URL: a database of a
// throwaway cluster with wal_level=logical, made by tests/supabase_js.rs).
// Rows are written with psql.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { client, startHerald, subscribe, subscribed, waitFor } from './harness.mjs';

const url = process.env.HERALD_TEST_PG_URL;
if (!url) throw new Error('set HERALD_TEST_PG_URL to a database with wal_level=logical (tests/supabase_js.rs does)');
const run = promisify(execFile);
const psql = (sql) => run('psql', [url, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql]);

let herald;
const clients = [];
const open = () => {
  const c = client(herald);
  clients.push(c);
  return c;
};

before(async () => {
  await psql(`CREATE TABLE todos (id bigserial PRIMARY KEY, list_id int NOT NULL, title text NOT NULL,
    done bool NOT NULL DEFAULT false, tags text[], meta jsonb);
    ALTER TABLE todos REPLICA IDENTITY FULL;
    CREATE TABLE notes (id serial PRIMARY KEY, body text)`);
  const slot = `supa_${Math.random().toString(16).slice(2, 10)}`;
  herald = await startHerald(`[changes]\nurl = "${url}"\nslot = "${slot}"\nstatus_interval_ms = 200\n`);
  await waitFor(
    'the change feed to stream (/readyz)',
    async () => (await fetch(`${herald.base}/readyz`)).status === 200,
    30000,
  );
});

after(async () => {
  for (const c of clients) c.disconnect();
  await herald?.close();
});

test('INSERT, UPDATE and DELETE arrive typed, with old rows; an insert made in the SUBSCRIBED callback arrives', async () => {
  const a = open();
  const got = [];
  const system = [];
  const ch = a
    .channel('todos-7')
    .on('postgres_changes', { event: '*', schema: 'public', table: 'todos', filter: 'list_id=eq.7' }, (c) => got.push(c))
    .on('system', {}, (m) => system.push(m));
  let inserted;
  const status = await new Promise((resolve) =>
    ch.subscribe((s, err) => {
      if (s === 'SUBSCRIBED') inserted = psql(`INSERT INTO todos (list_id, title, tags, meta) VALUES (7, 'milk', '{a,b}', '{"k":1}')`);
      resolve([s, err]);
    }),
  );
  assert.deepEqual(status, ['SUBSCRIBED', undefined]);
  await inserted;
  await psql(`INSERT INTO todos (list_id, title) VALUES (8, 'not for list 7')`);
  await psql(`UPDATE todos SET done = true WHERE title = 'milk'`);
  await psql(`DELETE FROM todos WHERE title = 'milk'`);
  await waitFor('three changes', () => got.length >= 3);
  assert.equal(got.length, 3);
  const [ins, upd, del] = got;
  assert.equal(ins.eventType, 'INSERT');
  assert.equal(ins.schema, 'public');
  assert.equal(ins.table, 'todos');
  assert.match(ins.commit_timestamp, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(ins.new, { id: 1, list_id: 7, title: 'milk', done: false, tags: ['a', 'b'], meta: { k: 1 } });
  assert.deepEqual(ins.old, {});
  assert.equal(ins.errors, null);
  assert.equal(upd.eventType, 'UPDATE');
  assert.equal(upd.new.done, true);
  assert.equal(upd.old.done, false, 'REPLICA IDENTITY FULL: the whole old row');
  assert.equal(del.eventType, 'DELETE');
  assert.deepEqual(del.new, {});
  assert.equal(del.old.title, 'milk');
  await waitFor('the system message', () => system.length >= 1);
  assert.equal(system[0].extension, 'postgres_changes');
  assert.equal(system[0].status, 'ok');
});

test('bindings by event and with an in filter get their own changes (ids)', async () => {
  const a = open();
  const [inserts, deletes, all] = [[], [], []];
  const ch = a
    .channel('todos-many')
    .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'todos', filter: 'title=in.(tea,"oat milk")' }, (c) =>
      inserts.push(c.new.title),
    )
    .on('postgres_changes', { event: 'DELETE', schema: 'public', table: 'todos' }, (c) => deletes.push(c.old.title))
    .on('postgres_changes', { event: '*', schema: 'public', table: 'notes' }, (c) => all.push(c.eventType));
  await subscribed(ch);
  await psql(`INSERT INTO todos (list_id, title) VALUES (1, 'tea'), (1, 'coffee'), (1, 'oat milk')`);
  await psql(`INSERT INTO notes (body) VALUES ('n')`);
  await psql(`DELETE FROM todos WHERE title IN ('tea', 'coffee')`);
  await waitFor('the filtered changes', () => inserts.length >= 2 && deletes.length >= 2 && all.length >= 1);
  assert.deepEqual(inserts, ['tea', 'oat milk']);
  assert.deepEqual(deletes.sort(), ['coffee', 'tea']);
  assert.deepEqual(all, ['INSERT']);
});

test('an unknown table or a malformed filter is a join error (CHANNEL_ERROR), never a silent success', async () => {
  const a = open();
  for (const [binding, needle] of [
    [{ event: '*', schema: 'public', table: 'no_such_table' }, 'no_such_table'],
    [{ event: '*', schema: 'public', table: 'todos', filter: 'list_id=like.7' }, 'filter'],
    [{ event: '*', schema: 'public', table: 'todos', filter: 'nope=eq.1' }, 'nope'],
  ]) {
    const ch = a.channel(`bad-${Math.random()}`).on('postgres_changes', binding, () => {});
    const { status, err } = await subscribe(ch);
    assert.equal(status, 'CHANNEL_ERROR', JSON.stringify(binding));
    assert.match(String(err), new RegExp(needle), String(err));
  }
});
