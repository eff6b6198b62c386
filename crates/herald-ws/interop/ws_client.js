// Interoperability check against the npm `ws` client (Node 20+).
//
//   mkdir -p /tmp/ws-interop && cp crates/herald-ws/interop/ws_client.js /tmp/ws-interop/
//   (cd /tmp/ws-interop && npm init -y >/dev/null && npm install ws)
//   cargo run -p herald-ws --example echo_server -- 127.0.0.1:9001 &
//   node /tmp/ws-interop/ws_client.js ws://127.0.0.1:9001/
//
// Prints one line per scenario and "ALL OK" on success; exits 1 on failure.
const WebSocket = require('ws');
const crypto = require('crypto');
const url = process.argv[2];

function run(name, opts, check) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const expected = [];
    let received = 0;
    const timer = setTimeout(() => reject(new Error(name + ': timeout')), 10000);
    ws.on('error', (e) => reject(new Error(name + ': ' + e.message)));
    ws.on('open', () => {
      check.ext(ws.extensions);
      const msgs = [
        'hello',
        '',
        'ünïcödé ✓ '.repeat(5000),
        'x'.repeat(300000),
        crypto.randomBytes(200000),
        Buffer.alloc(100000, 7),
        Buffer.alloc(0),
      ];
      for (const m of msgs) { expected.push(m); ws.send(m); }
      // Fragmented text (fin: false then continuation).
      ws.send('frag-a ', { fin: false });
      ws.send('frag-b ', { fin: false });
      ws.send('frag-c', { fin: true });
      expected.push('frag-a frag-b frag-c');
      ws.ping('are you there');
    });
    let ponged = false;
    ws.on('pong', (d) => { ponged = d.toString() === 'are you there'; });
    ws.on('message', (data, isBinary) => {
      const want = expected[received++];
      const wantBuf = Buffer.isBuffer(want) ? want : Buffer.from(want);
      if (isBinary !== Buffer.isBuffer(want) || !wantBuf.equals(data)) {
        return reject(new Error(`${name}: message ${received - 1} mismatch`));
      }
      if (received === expected.length) ws.close(4000, 'done');
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 4000) return reject(new Error(`${name}: close code ${code}`));
      if (!ponged) return reject(new Error(`${name}: no pong`));
      console.log(`${name}: ok (${received} messages echoed, extensions=${JSON.stringify(ws.extensions)})`);
      resolve();
    });
  });
}

(async () => {
  await run('deflate', { perMessageDeflate: { threshold: 0 } },
    { ext: (e) => { if (!e.includes('permessage-deflate')) throw new Error('deflate not negotiated: ' + e); } });
  await run('deflate-default', {},
    { ext: (e) => { if (!e.includes('permessage-deflate')) throw new Error('deflate not negotiated: ' + e); } });
  await run('small-server-window', { perMessageDeflate: { serverMaxWindowBits: 10 } },
    { ext: (e) => { if (e !== '') throw new Error('expected no extension, got ' + e); } });
  await run('no-deflate', { perMessageDeflate: false },
    { ext: (e) => { if (e !== '') throw new Error('expected no extension, got ' + e); } });
  // A protocol violation: a raw text frame with invalid UTF-8 must be closed with 1007.
  await new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on('open', () => ws._sender.sendFrame(
      WebSocket.Sender.frame(Buffer.from([0xff, 0xfe]), { fin: true, opcode: 1, mask: true, readOnly: false, rsv1: false }), () => {}));
    ws.on('close', (code) => { code === 1007 ? (console.log('invalid-utf8: ok (1007)'), resolve()) : reject(new Error('invalid-utf8: got ' + code)); });
    ws.on('error', () => {});
  });
  console.log('ALL OK');
})().catch((e) => { console.error('FAIL', e.message); process.exit(1); });
