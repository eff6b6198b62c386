// A browser page using pusher-js (its web build, served by the app's own
// origin) receives an event triggered with the pusher server SDK: Debian
// chromium driven by playwright-core, no network beyond 127.0.0.1.
// Run: HERALD_BIN=target/debug/herald node browser.test.mjs
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../node/herald.mjs';
import { APP, freePort, start, waitFor } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const require = createRequire(import.meta.url);
const pusherJs = readFileSync(require.resolve('pusher-js/dist/web/pusher.min.js'));

const page = (port) => `<!doctype html>
<html><body>
<p id="status">connecting</p>
<ol id="log"></ol>
<script src="/pusher.min.js"></script>
<script>
  const pusher = new Pusher(${JSON.stringify(APP.key)}, {
    wsHost: '127.0.0.1', wsPort: ${port}, forceTLS: false, enabledTransports: ['ws'], cluster: 'mt1',
  });
  const channel = pusher.subscribe('free-news');
  channel.bind('pusher:subscription_succeeded', () => {
    document.getElementById('status').textContent = 'subscribed ' + pusher.connection.socket_id;
  });
  channel.bind('headline', (data) => {
    const li = document.createElement('li');
    li.textContent = data.title;
    document.getElementById('log').appendChild(li);
  });
</script>
</body></html>`;

const env = await start();
let browser;
let server;
try {
  server = http.createServer((req, res) => {
    if (req.url === '/pusher.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(pusherJs);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page(env.herald.port));
  });
  const pagePort = await freePort();
  await new Promise((r) => server.listen(pagePort, '127.0.0.1', r));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${pagePort}/`);
  const status = await waitFor('the page to subscribe', async () => {
    const s = await tab.textContent('#status');
    return s.startsWith('subscribed ') && s;
  });
  if (!/^subscribed \d+\.\d+$/.test(status)) throw new Error(`unexpected status ${status}`);
  await env.server.trigger('free-news', 'headline', { title: 'Herald speaks Pusher' });
  await env.server.trigger('free-news', 'headline', { title: 'second' });
  const shown = await waitFor('two headlines on the page', async () => {
    const items = await tab.$$eval('#log li', (lis) => lis.map((li) => li.textContent));
    return items.length >= 2 && items;
  });
  if (JSON.stringify(shown) !== JSON.stringify(['Herald speaks Pusher', 'second'])) {
    throw new Error(`page shows ${JSON.stringify(shown)}`);
  }
  console.log('ok - browser pusher-js: subscribed and received triggered events in order');
} finally {
  await browser?.close();
  server?.close();
  await env.close();
}
