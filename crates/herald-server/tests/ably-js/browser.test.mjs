// A browser page using ably-js (its web build: JSON and HEARTBEAT
// messages, as browsers use them) against herald's Ably door: it attaches,
// receives messages published with the Node REST client, publishes one a
// Node realtime client receives, and enters presence. Debian chromium
// driven by playwright-core, no network beyond 127.0.0.1.
// Run: HERALD_BIN=target/debug/herald node browser.test.mjs
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../node/herald.mjs';
import { Ably, KEY, closeAll, freePort, options, realtime, start, waitFor } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
// The package does not export its web build as a module path: read the file.
const ablyJs = readFileSync(new URL('./node_modules/ably/build/ably.min.js', import.meta.url));

const page = (port) => `<!doctype html>
<html><body>
<p id="status">connecting</p>
<ol id="log"></ol>
<script src="/ably.min.js"></script>
<script>
  const ably = new Ably.Realtime({
    key: ${JSON.stringify(KEY)}, clientId: 'browser', endpoint: '127.0.0.1', port: ${port}, tls: false, fallbackHosts: [],
  });
  const channel = ably.channels.get('chat:browser');
  channel.subscribe('headline', (m) => {
    const li = document.createElement('li');
    li.textContent = m.data.title;
    document.getElementById('log').appendChild(li);
  }).then(async () => {
    await channel.presence.enter({ tab: 1 });
    await channel.publish('from-page', { text: 'hello from chromium' });
    document.getElementById('status').textContent = 'attached ' + ably.connection.id;
  }, (e) => { document.getElementById('status').textContent = 'error ' + e.code; });
</script>
</body></html>`;

const herald = await start();
let browser;
let server;
try {
  server = http.createServer((req, res) => {
    if (req.url === '/ably.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(ablyJs);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page(herald.port));
  });
  const pagePort = await freePort();
  await new Promise((r) => server.listen(pagePort, '127.0.0.1', r));
  const node = realtime(herald, true);
  const fromPage = [];
  const nodeCh = node.channels.get('chat:browser');
  await nodeCh.subscribe('from-page', (m) => fromPage.push(m));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${pagePort}/`);
  const status = await waitFor('the page to attach', async () => {
    const s = await tab.textContent('#status');
    return s !== 'connecting' && s;
  });
  if (!status.startsWith('attached ')) throw new Error(`page says ${status}`);
  await waitFor('the page message in Node', () => fromPage.length === 1);
  if (fromPage[0].data.text !== 'hello from chromium' || fromPage[0].clientId !== 'browser') {
    throw new Error(`got ${JSON.stringify(fromPage[0])}`);
  }
  const members = await nodeCh.presence.get();
  if (members.length !== 1 || members[0].clientId !== 'browser') throw new Error(`presence ${JSON.stringify(members)}`);
  const rest = new Ably.Rest(options(herald, true)).channels.get('chat:browser');
  await rest.publish('headline', { title: 'Herald speaks Ably' });
  await rest.publish('headline', { title: 'second' });
  const shown = await waitFor('two headlines on the page', async () => {
    const items = await tab.$$eval('#log li', (lis) => lis.map((li) => li.textContent));
    return items.length >= 2 && items;
  });
  if (JSON.stringify(shown) !== JSON.stringify(['Herald speaks Ably', 'second'])) {
    throw new Error(`page shows ${JSON.stringify(shown)}`);
  }
  console.log('ok - browser ably-js: attached, published, entered presence and received messages in order');
} finally {
  await browser?.close();
  server?.close();
  closeAll();
  await herald.close();
}
