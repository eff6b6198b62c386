// A browser page using socket.io-client (its web build, served by the app's
// own origin, so polling is cross-origin) on the default path — polling,
// then the upgrade to WebSocket — subscribes and receives HTTP API
// publications as named events: Debian chromium driven by playwright-core,
// no network beyond 127.0.0.1.
// Run: HERALD_BIN=target/debug/herald node browser.test.mjs
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../node/herald.mjs';
import { freePort, startHerald, token, waitFor } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const require = createRequire(import.meta.url);
// The package's exports hide dist/: find it next to the resolved entry.
const clientJs = readFileSync(new URL('../../dist/socket.io.min.js', `file://${require.resolve('socket.io-client')}`));

const page = (port, tok) => `<!doctype html>
<html><body>
<p id="status">connecting</p>
<ol id="log"></ol>
<script src="/socket.io.min.js"></script>
<script>
  const socket = io('http://127.0.0.1:${port}', { auth: { token: ${JSON.stringify(tok)} } });
  socket.on('connect', () => {
    socket.emit('subscribe', { channel: 'chat:browser' }, (r) => {
      document.getElementById('status').textContent = r.ok ? 'subscribed ' + socket.io.engine.transport.name : 'refused';
    });
  });
  window.transportName = () => socket.io.engine.transport.name;
  socket.on('headline', (data, meta) => {
    const li = document.createElement('li');
    li.textContent = data.title + '@' + meta.offset;
    document.getElementById('log').appendChild(li);
  });
</script>
</body></html>`;

const herald = await startHerald();
let browser;
let server;
try {
  server = http.createServer((req, res) => {
    if (req.url === '/socket.io.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(clientJs);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page(herald.port, token('browser-user')));
  });
  const pagePort = await freePort();
  await new Promise((r) => server.listen(pagePort, '127.0.0.1', r));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${pagePort}/`);
  const status = await waitFor('the page to subscribe', async () => {
    const s = await tab.textContent('#status');
    return s.startsWith('subscribed') && s;
  });
  // The default path starts on polling (cross-origin) and upgrades.
  if (status !== 'subscribed polling' && status !== 'subscribed websocket') throw new Error(`unexpected status ${status}`);
  await waitFor('the upgrade to websocket', async () => (await tab.evaluate(() => window.transportName())) === 'websocket');
  await herald.publish('chat:browser', { event: 'headline', data: { title: 'Herald speaks Socket.IO' } });
  await herald.publish('chat:browser', { event: 'headline', data: { title: 'second' } });
  const shown = await waitFor('two headlines on the page', async () => {
    const items = await tab.$$eval('#log li', (lis) => lis.map((li) => li.textContent));
    return items.length >= 2 && items;
  });
  if (JSON.stringify(shown) !== JSON.stringify(['Herald speaks Socket.IO@1', 'second@2'])) {
    throw new Error(`page shows ${JSON.stringify(shown)}`);
  }
  console.log('ok - browser socket.io-client: polling, upgrade to websocket, named events in order');
} finally {
  await browser?.close();
  server?.close();
  await herald.close();
}
