// The real `yjs` 13 + `y-websocket` 3 packages against Herald's /yjs door:
// convergence after concurrent edits at one position, offline edits merged
// on reconnect, awareness states shown and removed when a connection dies,
// a read-only token that cannot change the document, oversized updates
// refused with a reason, the HTTP API (with compare-and-set on versioned
// records), and a document that survives both a
// graceful restart and a crash (SIGKILL) with every relayed edit.
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { Herald, assertEqual, hs256Token, sleep, waitFor } from '../node/herald.mjs';

const SECRET = 'yjs-test-secret';
const API_KEY = 'yjs-test-api-key';
const config = `
api_key = "${API_KEY}"
[auth]
token_secret = "${SECRET}"
[namespaces.doc]
presence = true
presence_grace_ms = 0
[yjs]
max_update_bytes = 65536
compact_after_updates = 20
compact_idle_secs = 1
unload_grace_secs = 1
[limits]
connections_per_ip_per_sec = 10000
connections_per_ip_burst = 10000
messages_per_conn_per_sec = 10000
messages_per_conn_burst = 10000
api_calls_per_sec = 10000
api_calls_burst = 10000
`;

const token = (sub, allow, channels = ['doc:*']) => hs256Token(SECRET, sub, [{ channels, allow }]);
const writer = (sub) => token(sub, ['subscribe', 'publish', 'presence']);
const reader = (sub) => token(sub, ['subscribe', 'presence']);

const herald = new Herald(config);
const providers = [];
const warnings = [];
const warn = console.warn;
console.warn = (...args) => {
  warnings.push(args.join(' '));
};

function connect(room, tok, doc = new Y.Doc()) {
  const p = new WebsocketProvider(`ws://127.0.0.1:${herald.port}/yjs`, room, doc, {
    WebSocketPolyfill: WebSocket,
    params: { token: tok },
    disableBc: true, // both providers live in this process: sync only through the server
    maxBackoffTime: 200,
  });
  providers.push(p);
  return p;
}
const synced = (p, what) => waitFor(`${what} to sync`, () => p.synced);
const text = (p) => p.doc.getText('t').toString();

async function api(path, init = {}) {
  const r = await fetch(`${herald.base}/api${path}`, {
    ...init,
    headers: { authorization: `Bearer ${API_KEY}`, ...(init.headers ?? {}) },
  });
  return r;
}
async function serverJson(name) {
  const r = await api(`/docs/${name}?format=json`);
  if (!r.ok) throw new Error(`GET /api/docs/${name}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Open a raw WebSocket that the server must refuse; its HTTP status and JSON body. */
function refusal(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${herald.port}${path}`);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        res.socket?.destroy();
        resolve({ status: res.statusCode, body: JSON.parse(body) });
      });
    });
    ws.on('open', () => {
      ws.close();
      reject(new Error(`${path} was upgraded`));
    });
    ws.on('error', () => {});
  });
}

function ok(what) {
  console.log(`ok - ${what}`);
}

try {
  await herald.start();

  // 1. Concurrent edits at the same position converge.
  {
    const a = connect('doc:converge', writer('ann'));
    const b = connect('converge', writer('bob')); // no namespace: [yjs] namespace = doc
    await synced(a, 'a');
    await synced(b, 'b');
    a.doc.getText('t').insert(0, 'hello');
    await waitFor('b to see a', () => text(b) === 'hello');
    // Same tick, same position: neither has seen the other's insert.
    a.doc.getText('t').insert(5, ' from ann');
    b.doc.getText('t').insert(5, ' from bob');
    await waitFor('convergence', () => text(a) === text(b) && text(a).length === 'hello from ann from bob'.length);
    if (!text(a).includes(' from ann') || !text(a).includes(' from bob')) throw new Error(`lost an edit: ${text(a)}`);
    assertEqual(Y.encodeStateVector(a.doc), Y.encodeStateVector(b.doc), 'state vectors');
    await waitFor('the server copy', async () => (await serverJson('doc:converge')).roots.t === text(a));
    ok(`two providers converge after concurrent inserts at one position: ${JSON.stringify(text(a))}`);

    // 2. Edits while disconnected merge on reconnect.
    b.disconnect();
    await waitFor('b to be disconnected', () => !b.wsconnected);
    b.doc.getText('t').insert(0, '[offline] ');
    a.doc.getText('t').insert(text(a).length, ' [online]');
    await sleep(200);
    if (text(a).includes('[offline]')) throw new Error('a saw an edit b made while disconnected');
    b.connect();
    await waitFor('merge after reconnect', () => text(a) === text(b) && text(a).includes('[offline]') && text(a).includes('[online]'));
    ok(`an offline edit merges on reconnect: ${JSON.stringify(text(b))}`);
    a.destroy();
    b.destroy();
  }

  // 3. Awareness: states appear; a connection that dies has its states removed.
  {
    const a = connect('doc:aware', writer('ann'));
    const b = connect('doc:aware', writer('bob'));
    await synced(a, 'a');
    await synced(b, 'b');
    a.awareness.setLocalStateField('user', { name: 'ann', color: '#f00' });
    await waitFor("b to see ann's cursor", () => b.awareness.getStates().get(a.doc.clientID)?.user?.name === 'ann');
    // A third provider that joins later gets the states in the greeting.
    const c = connect('doc:aware', writer('cid'));
    await waitFor("c to see ann's cursor", () => c.awareness.getStates().get(a.doc.clientID)?.user?.name === 'ann');
    // Presence lists the document's viewers like any channel's members.
    const pres = await (await api('/presence/doc:aware')).json();
    assertEqual(pres.members.map((m) => m.user).sort(), ['ann', 'bob', 'cid'], 'presence of doc:aware');
    // The server's view of awareness, through the HTTP API.
    const seen = await serverJson('doc:aware');
    assertEqual(seen.awareness.length, 3, 'awareness states on the server (one per provider)');
    assertEqual(seen.awareness.filter((s) => s.state.user).map((s) => s.state.user.name), ['ann'], 'named states on the server');
    // Kill ann's socket without a goodbye: only the server can tell the others.
    a.shouldConnect = false;
    a.ws.terminate();
    await waitFor("ann's state to be removed at b", () => !b.awareness.getStates().has(a.doc.clientID));
    await waitFor("ann's state to be removed at c", () => !c.awareness.getStates().has(a.doc.clientID));
    await waitFor('ann to leave presence', async () => {
      const p = await (await api('/presence/doc:aware')).json();
      return p.members.length === 2;
    });
    ok('awareness states are relayed, sent to late joiners, and removed when a connection dies; presence lists viewers');
    a.destroy();
    b.destroy();
    c.destroy();
  }

  // 4. A read-only token syncs but cannot change the document.
  {
    const w = connect('doc:readonly', writer('ann'));
    const r = connect('doc:readonly', reader('rita'));
    await synced(w, 'writer');
    await synced(r, 'reader');
    w.doc.getText('t').insert(0, 'written');
    await waitFor('the reader to see the writer', () => text(r) === 'written');
    r.awareness.setLocalStateField('user', { name: 'rita' });
    await waitFor("the writer to see the reader's cursor", () => w.awareness.getStates().get(r.doc.clientID)?.user?.name === 'rita');
    warnings.length = 0;
    r.doc.getText('t').insert(0, 'VANDAL ');
    await waitFor('a permission-denied message', () => warnings.some((m) => m.includes('read-only access to doc:readonly')));
    await sleep(300);
    assertEqual(text(w), 'written', "writer's copy after the reader's edit");
    assertEqual((await serverJson('doc:readonly')).roots.t, 'written', "server's copy after the reader's edit");
    const fresh = connect('doc:readonly', writer('fred'));
    await synced(fresh, 'fresh');
    assertEqual(text(fresh), 'written', 'a fresh client after the reader edit');
    ok('a read-only token syncs and shows its cursor, but its edits are refused and never stored');
    for (const p of [w, r, fresh]) p.destroy();
  }

  // 5. Refusals: an oversized update, an unknown token, no token.
  {
    const w = connect('doc:big', writer('ann'));
    await synced(w, 'big');
    warnings.length = 0;
    const closes = [];
    w.on('connection-close', (e) => closes.push(e?.code));
    w.doc.getText('t').insert(0, 'x'.repeat(70000));
    await waitFor('the oversized update to be refused', () => closes.includes(1009));
    w.destroy();
    // Garbage and text frames close that connection only (4500), with a reason.
    const watcher = connect('doc:big', reader('vera'));
    await synced(watcher, 'watcher');
    for (const junk of [Buffer.from([0, 9, 200, 1]), 'hello']) {
      const raw = new WebSocket(`ws://127.0.0.1:${herald.port}/yjs/doc:big?token=${writer('mal')}`);
      await new Promise((r) => raw.once('open', r));
      const closed = new Promise((r) => raw.once('close', (code, reason) => r([code, String(reason)])));
      raw.send(junk);
      const [code, reason] = await closed;
      assertEqual(code, 4500, `close code after ${JSON.stringify(String(junk))}`);
      if (!reason) throw new Error('a protocol violation closes with a reason');
    }
    if (!watcher.wsconnected) throw new Error('another connection of the document was affected');
    watcher.destroy();
    const bad = await refusal(`/yjs/doc:x?token=not-a-token`);
    assertEqual(bad.status, 401, 'status of a bad token');
    const anon = await refusal(`/yjs/doc:x`);
    assertEqual([anon.status, anon.body.error.code], [403, 103], 'no token on a non-public namespace');
    const other = await refusal(`/yjs/doc:x?token=${token('ann', ['subscribe'], ['doc:other'])}`);
    assertEqual([other.status, other.body.error.code], [403, 103], 'a token for another document');
    ok('oversized updates close with 1009 and garbage with 4500, with reasons, harming no one else; bad or missing tokens are refused before the upgrade');
  }

  // 6. HTTP API: apply a server-side update; connected editors receive it.
  {
    const w = connect('doc:api', writer('ann'));
    await synced(w, 'api');
    const server = new Y.Doc();
    server.getMap('meta').set('title', 'Spec 42');
    server.getText('t').insert(0, 'from the back end');
    const r = await api('/docs/doc:api/update', { method: 'POST', body: Y.encodeStateAsUpdate(server) });
    assertEqual(r.status, 200, 'status of POST /api/docs/doc:api/update');
    await waitFor('the editor to receive the server update', () => text(w) === 'from the back end');
    assertEqual(w.doc.getMap('meta').get('title'), 'Spec 42', 'map value at the editor');
    const json = await serverJson('doc:api');
    assertEqual(json.roots, { meta: { title: 'Spec 42' }, t: 'from the back end' }, 'JSON of the roots');
    const bin = new Uint8Array(await (await api('/docs/doc:api')).arrayBuffer());
    const copy = new Y.Doc();
    Y.applyUpdate(copy, bin);
    assertEqual(copy.getText('t').toString(), 'from the back end', 'binary state applied to a new Y.Doc');
    const noKey = await fetch(`${herald.base}/api/docs/doc:api`);
    assertEqual(noKey.status, 401, 'GET without the API key');
    const garbage = await api('/docs/doc:api/update', { method: 'POST', body: new Uint8Array([200, 1, 2, 3]) });
    assertEqual([garbage.status, (await garbage.json()).error.code], [400, 107], 'a garbage update');
    ok('HTTP API: server-side update reaches editors; state as binary and JSON; API key required; bad updates refused');
    w.destroy();
  }

  // 7. Versioned records: last-writer-wins from clients, compare-and-set on the server.
  {
    const w = connect('doc:records', writer('ann'));
    await synced(w, 'records');
    const records = w.doc.getMap('records');
    w.doc.transact(() => {
      const r = new Y.Map();
      records.set('card-1', r);
      r.set('title', 'draft');
      r.set('version', 1);
    });
    const cas = (expect_version, fields) =>
      api('/docs/doc:records/records', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'card-1', expect_version, fields }),
      });
    await waitFor('the record on the server', async () => (await serverJson('doc:records')).roots.records?.['card-1']);
    const stale = await cas(0, { title: 'lost' });
    assertEqual([stale.status, (await stale.json()).error.code], [409, 119], 'compare-and-set with a stale version');
    const okay = await cas(1, { title: 'final', done: true });
    assertEqual([okay.status, (await okay.json()).version], [200, 2], 'compare-and-set with the current version');
    await waitFor('the editor to see the server write', () => records.get('card-1').get('version') === 2);
    assertEqual(records.get('card-1').toJSON(), { title: 'final', version: 2, done: true }, 'the record at the editor');
    const again = await cas(1, { title: 'late' });
    assertEqual(again.status, 409, 'a second write with the old version');
    ok('versioned records: compare-and-set refuses stale versions (409, 119) and editors receive the write');
    w.destroy();
  }

  // 8. Restarts: graceful, then a crash. Everything relayed survives.
  {
    const a = connect('doc:durable', writer('ann'));
    const b = connect('doc:durable', writer('bob'));
    await synced(a, 'a');
    await synced(b, 'b');
    for (let i = 0; i < 50; i++) (i % 2 ? a : b).doc.getText('t').insert(0, `${i},`);
    a.doc.getMap('m').set('k', 'v');
    await waitFor('convergence before the restart', () => text(a) === text(b) && text(a).split(',').length === 51 && b.doc.getMap('m').get('k') === 'v');
    const before = text(a);
    const beforeSv = Y.encodeStateVector(a.doc);
    a.destroy();
    b.destroy();

    await herald.restart('SIGTERM');
    const c = connect('doc:durable', writer('cid'));
    await synced(c, 'after a graceful restart');
    assertEqual(text(c), before, 'text after a graceful restart');
    assertEqual(Y.encodeStateVector(c.doc), beforeSv, 'state vector after a graceful restart');

    // Edits seen by another client are durable even if the server crashes right after.
    const d = connect('doc:durable', writer('dan'));
    await synced(d, 'd');
    for (let i = 0; i < 10; i++) c.doc.getText('t').insert(0, `crash${i};`);
    await waitFor('d to see every edit', () => text(d) === text(c));
    const beforeCrash = text(c);
    // No client may bring the edits back after the crash: close them first.
    c.destroy();
    d.destroy();
    await herald.restart('SIGKILL');
    const e = connect('doc:durable', writer('eve'));
    await synced(e, 'after a crash');
    assertEqual(text(e), beforeCrash, 'text after SIGKILL');
    assertEqual(e.doc.getMap('m').get('k'), 'v', 'map after SIGKILL');
    ok('the document is identical after a graceful restart and after a crash');
    e.destroy();
  }
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  console.warn = warn;
  for (const p of providers) p.destroy();
  await herald.close();
}
// Keep-alive sockets and timers of the clients must not keep the test running.
process.exit();
