// Two Herald nodes on one Redis (scale-out broker, own key prefix) and one
// PostgreSQL schema (shared store), with the real `yjs` 13 + `y-websocket` 3
// packages, one provider per node: concurrent edits at the same position
// converge; awareness set through node A shows at node B and goes away when
// the connection closes; a provider joining later on node B, where the
// document was not open, gets the full text and the cursors; the document
// is identical after both nodes restart; and when a node dies, its
// connections' cursors disappear from the other node.
// Run by tests/yjs_cluster.rs, which provides the schema and the prefix.
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { Herald, assertEqual, hs256Token, waitFor } from '../node/herald.mjs';

const SECRET = 'yjs-cluster-secret';
const API_KEY = 'yjs-cluster-api-key';
const { HERALD_TEST_POSTGRES_URL: pgUrl, HERALD_TEST_SCHEMA: schema, HERALD_TEST_REDIS_PREFIX: prefix } = process.env;
if (!pgUrl || !schema || !prefix) throw new Error('run through tests/yjs_cluster.rs (schema and Redis prefix)');

const config = `
api_key = "${API_KEY}"
[auth]
token_secret = "${SECRET}"
[namespaces.doc]
presence = true
presence_grace_ms = 0
[yjs]
compact_after_updates = 5
compact_idle_secs = 1
unload_grace_secs = 1
[store]
url = "${pgUrl}"
schema = "${schema}"
max_connections = 4
[broker]
url = "redis://127.0.0.1:6379"
key_prefix = "${prefix}"
command_timeout_ms = 1000
pubsub_ping_interval_ms = 500
reconnect_max_delay_ms = 500
node_heartbeat_secs = 1
node_ttl_secs = 3
[limits]
connections_per_ip_per_sec = 10000
connections_per_ip_burst = 10000
messages_per_conn_per_sec = 10000
messages_per_conn_burst = 10000
api_calls_per_sec = 10000
api_calls_burst = 10000
`;

const token = (sub) => hs256Token(SECRET, sub, [{ channels: ['doc:*'], allow: ['subscribe', 'publish', 'presence'] }]);

const A = new Herald(config);
const B = new Herald(config);
const providers = [];

function connect(node, room, user) {
  const p = new WebsocketProvider(`ws://127.0.0.1:${node.port}/yjs`, room, new Y.Doc(), {
    WebSocketPolyfill: WebSocket,
    params: { token: token(user) },
    disableBc: true, // all providers live in this process: sync only through the servers
    maxBackoffTime: 200,
  });
  providers.push(p);
  return p;
}
const synced = (p, what) => waitFor(`${what} to sync`, () => p.synced);
const text = (p) => p.doc.getText('t').toString();
const cursor = (p, other) => p.awareness.getStates().get(other.doc.clientID)?.user?.name;
async function serverJson(node, name) {
  const r = await fetch(`${node.base}/api/docs/${name}?format=json`, { headers: { authorization: `Bearer ${API_KEY}` } });
  if (!r.ok) throw new Error(`GET /api/docs/${name}: ${r.status} ${await r.text()}`);
  return r.json();
}
const ok = (what) => console.log(`ok - ${what}`);

try {
  await A.start();
  await B.start();

  // 1. One provider per node; concurrent edits at the same position converge.
  const a = connect(A, 'doc:shared', 'ann');
  const b = connect(B, 'doc:shared', 'bob');
  await synced(a, 'a (node A)');
  await synced(b, 'b (node B)');
  a.doc.getText('t').insert(0, 'hello');
  await waitFor('b on node B to see the edit made on node A', () => text(b) === 'hello');
  a.doc.getText('t').insert(5, ' from ann');
  b.doc.getText('t').insert(5, ' from bob');
  await waitFor('convergence across nodes', () => text(a) === text(b) && text(a).length === 'hello from ann from bob'.length);
  if (!text(a).includes(' from ann') || !text(a).includes(' from bob')) throw new Error(`lost an edit: ${text(a)}`);
  assertEqual(Y.encodeStateVector(a.doc), Y.encodeStateVector(b.doc), 'state vectors');
  for (let i = 0; i < 30; i++) (i % 2 ? a : b).doc.getText('t').insert(0, `${i},`); // past compact_after_updates
  await waitFor('convergence after 30 more edits', () => text(a) === text(b) && text(a).split(',').length === 31);
  for (const node of [A, B]) {
    await waitFor(`node ${node === A ? 'A' : 'B'}'s copy`, async () => (await serverJson(node, 'doc:shared')).roots.t === text(a));
  }
  ok(`providers on two nodes converge after concurrent inserts at one position: ${JSON.stringify(text(a).slice(-30))}`);

  // 2. Awareness crosses nodes, and is removed everywhere when its connection dies.
  a.awareness.setLocalStateField('user', { name: 'ann' });
  b.awareness.setLocalStateField('user', { name: 'bob' });
  await waitFor("b (node B) to see ann's cursor", () => cursor(b, a) === 'ann');
  await waitFor("a (node A) to see bob's cursor", () => cursor(a, b) === 'bob');
  a.shouldConnect = false;
  a.ws.terminate(); // no goodbye from the client: node A removes the state and tells node B
  await waitFor("ann's cursor to be removed at b (node B)", () => !b.awareness.getStates().has(a.doc.clientID));
  await waitFor("ann's state to be gone from node B's copy", async () =>
    !(await serverJson(B, 'doc:shared')).awareness.some((s) => s.state.user?.name === 'ann'));
  ok('awareness set on node A shows on node B and is removed there when the connection on A dies');

  // 3. A late joiner on node B, where the document was never open, gets everything.
  const w = connect(A, 'doc:late', 'wes');
  await synced(w, 'w (node A)');
  for (let i = 0; i < 12; i++) w.doc.getText('t').insert(0, `late${i};`);
  w.awareness.setLocalStateField('user', { name: 'wes' });
  await waitFor('node A to store the edits', async () => (await serverJson(A, 'doc:late')).roots.t === text(w));
  const c = connect(B, 'doc:late', 'cid');
  await synced(c, 'c (node B)');
  await waitFor('c to have the full text', () => text(c) === text(w));
  await waitFor("c to see wes's cursor on node A", () => cursor(c, w) === 'wes');
  c.doc.getText('t').insert(0, 'from B;');
  await waitFor('w (node A) to see the edit made on node B', () => text(w) === text(c));
  ok('a provider joining later on node B (document not open there) gets the full text and the cursors of node A');

  // 4. Both nodes restart: the document is identical.
  const before = text(b);
  const beforeSv = Y.encodeStateVector(b.doc);
  const lateBefore = text(c);
  for (const p of [b, c, w]) p.destroy();
  await A.restart('SIGTERM');
  await B.restart('SIGKILL'); // no flush on B: what it stored is enough
  const d = connect(B, 'doc:shared', 'dan');
  const e = connect(A, 'doc:late', 'eve');
  await synced(d, 'd (node B, restarted)');
  await synced(e, 'e (node A, restarted)');
  assertEqual(text(d), before, 'text of doc:shared after both nodes restarted');
  assertEqual(Y.encodeStateVector(d.doc), beforeSv, 'state vector after both nodes restarted');
  assertEqual(text(e), lateBefore, 'text of doc:late after both nodes restarted');
  ok('after both nodes restart (one gracefully, one killed) both documents are identical');

  // 5. A node dies: its connections' cursors disappear from the other node.
  const f = connect(A, 'doc:shared', 'fay');
  await synced(f, 'f (node A)');
  f.awareness.setLocalStateField('user', { name: 'fay' });
  await waitFor("d (node B) to see fay's cursor", () => cursor(d, f) === 'fay');
  f.shouldConnect = false;
  e.shouldConnect = false;
  await A.stop('SIGKILL');
  await waitFor("fay's state to be gone from node B once node A is declared dead", async () =>
    !(await serverJson(B, 'doc:shared')).awareness.some((s) => s.state.user?.name === 'fay'));
  await waitFor("fay's cursor to be removed at d", () => !d.awareness.getStates().has(f.doc.clientID));
  ok("when node A dies, its connections' cursors are removed on node B (after node_ttl_secs)");
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  for (const p of providers) p.destroy();
  await A.close();
  await B.close();
}
process.exit();
