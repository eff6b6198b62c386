// Bad input at /socket.io/: Engine.IO's refusals (status and body as
// engine.io answers them), malformed packets and oversized payloads, none
// of which harms another socket (a real socket.io-client stays connected
// and keeps receiving throughout).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { client, connected, next, request, startHerald, waitFor } from './harness.mjs';

let herald;
let bystander;
const seen = [];
before(async () => {
  herald = await startHerald('max_payload = 1000\nconnect_timeout_ms = 1500');
  bystander = client(herald.base, 'bystander', { transports: ['websocket'] });
  await connected(bystander);
  assert.equal((await request(bystander, 'subscribe', { channel: 'chat:bystander' })).ok, true);
  bystander.on('message', (data) => seen.push(data));
});
after(async () => {
  // Nothing harmed the bystander: still connected, and it still receives.
  await herald.publish('chat:bystander', 'last');
  await waitFor('the bystander to receive', () => seen.includes('last'));
  assert.equal(bystander.connected, true);
  bystander.disconnect();
  await herald.close();
});

const url = (q) => `${herald.base}/socket.io/?${q}`;

async function refused(method, q, body, status, code, message) {
  const r = await fetch(url(q), { method, body });
  assert.equal(r.status, status, `${method} ${q}`);
  assert.deepEqual(await r.json(), { code, message }, `${method} ${q}`);
}

async function handshake() {
  const r = await fetch(url('EIO=4&transport=polling'));
  assert.equal(r.status, 200);
  const open = JSON.parse((await r.text()).slice(1));
  assert.equal(open.maxPayload, 1000);
  return open.sid;
}

test("engine.io's refusals, with its status and body", async () => {
  await refused('GET', 'EIO=3&transport=polling', undefined, 400, 5, 'Unsupported protocol version');
  await refused('GET', 'transport=polling', undefined, 400, 5, 'Unsupported protocol version');
  await refused('GET', 'EIO=4&transport=flash', undefined, 400, 0, 'Transport unknown');
  await refused('GET', 'EIO=4', undefined, 400, 0, 'Transport unknown');
  await refused('POST', 'EIO=4&transport=polling', '40', 400, 2, 'Bad handshake method');
  await refused('GET', 'EIO=4&transport=polling&sid=nosuchsession', undefined, 400, 1, 'Session ID unknown');
  await refused('POST', 'EIO=4&transport=polling&sid=nosuchsession', '40', 400, 1, 'Session ID unknown');
  await refused('GET', 'EIO=4&transport=websocket', undefined, 400, 3, 'Bad request');
});

test('an oversized POST is 413 and keeps the session; a malformed one ends it', async () => {
  const sid = await handshake();
  await refused('POST', `EIO=4&transport=polling&sid=${sid}`, '4' + 'x'.repeat(2000), 413, 3, 'Payload too large');
  const ok = await fetch(url(`EIO=4&transport=polling&sid=${sid}`), { method: 'POST', body: '40' });
  assert.equal(await ok.text(), 'ok');
  const poll = await fetch(url(`EIO=4&transport=polling&sid=${sid}`));
  assert.match(await poll.text(), /^40\{"sid":"[^"]+","pid":"[^"]+"\}$/);
  await refused('POST', `EIO=4&transport=polling&sid=${sid}`, '9garbage', 400, 3, 'Bad request');
  await refused('GET', `EIO=4&transport=polling&sid=${sid}`, undefined, 400, 1, 'Session ID unknown');
});

test('malformed Socket.IO packets end only their own session', async () => {
  const sid = await handshake();
  const post = await fetch(url(`EIO=4&transport=polling&sid=${sid}`), { method: 'POST', body: '42["unterminated' });
  assert.equal(await post.text(), 'ok');
  const poll = await fetch(url(`EIO=4&transport=polling&sid=${sid}`));
  // A DISCONNECT (do not reconnect with the same client), then the close.
  assert.equal(await poll.text(), '41\x1e1');
});

test('on WebSocket: an oversized message closes (4503: too large), garbage closes the socket', async () => {
  for (const [payload, codes] of [
    ['4' + 'x'.repeat(5000), [1009, 4503]],
    ['40', null],
  ]) {
    const ws = new WebSocket(url('EIO=4&transport=websocket').replace('http', 'ws'));
    const first = next(ws, 'message');
    await next(ws, 'open');
    const [open] = await first;
    assert.match(String(open), /^0\{"sid"/);
    if (codes) {
      ws.send(payload);
      const [code] = await next(ws, 'close');
      assert.ok(codes.includes(code), `close code ${code}`);
    } else {
      ws.send('40');
      const [connect] = await next(ws, 'message');
      assert.match(String(connect), /^40\{"sid"/);
      ws.send('7nonsense');
      const [code] = await next(ws, 'close');
      assert.equal(code, 4500);
    }
  }
});

test('a polling session that never sends CONNECT is closed after connect_timeout_ms', async () => {
  const sid = await handshake();
  const started = Date.now();
  let last = '';
  while (!last.split('\x1e').includes('1')) {
    const r = await fetch(url(`EIO=4&transport=polling&sid=${sid}`));
    last = await r.text();
    // Answer the server's pings, as a client would.
    if (last.split('\x1e').includes('2')) await fetch(url(`EIO=4&transport=polling&sid=${sid}`), { method: 'POST', body: '3' });
    assert.ok(Date.now() - started < 10000, 'closed in time');
  }
  assert.ok(Date.now() - started >= 1000);
  await refused('GET', `EIO=4&transport=polling&sid=${sid}`, undefined, 400, 1, 'Session ID unknown');
});
