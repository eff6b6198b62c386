// A browser page using the real @supabase/realtime-js (its ES modules,
// served from node_modules with an import map) joins a channel, receives
// an HTTP API publication as a broadcast and sends one that a Node
// realtime-js client receives: Debian chromium driven by playwright-core,
// no network beyond 127.0.0.1.
// Run: HERALD_BIN=target/debug/herald node browser.test.mjs
import { existsSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from '../node/herald.mjs';
import { client, freePort, startHerald, subscribed, waitFor } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const modules = join(dirname(fileURLToPath(import.meta.url)), 'node_modules');

const page = (port) => `<!doctype html>
<html><body>
<p id="status">connecting</p>
<ol id="log"></ol>
<script type="importmap">
{ "imports": {
  "@supabase/realtime-js": "/m/@supabase/realtime-js/dist/module/index.js",
  "@supabase/phoenix": "/m/@supabase/phoenix/priv/static/phoenix.mjs"
} }
</script>
<script type="module">
  import { RealtimeClient } from '@supabase/realtime-js';
  const rt = new RealtimeClient('ws://127.0.0.1:${port}/realtime/v1', { params: { apikey: 'browser-anon-key' } });
  const channel = rt.channel('browser-news', { config: { presence: { key: 'page' } } });
  channel
    .on('broadcast', { event: 'headline' }, ({ payload }) => {
      const li = document.createElement('li');
      li.textContent = payload.title;
      document.getElementById('log').appendChild(li);
    })
    .subscribe(async (status) => {
      document.getElementById('status').textContent = status;
      if (status === 'SUBSCRIBED') {
        await channel.track({ where: 'browser' });
        await channel.send({ type: 'broadcast', event: 'hello', payload: { from: 'browser' } });
      }
    });
</script>
</body></html>`;

/** Files under node_modules; the ES modules import './x' without an extension. */
function moduleFile(url) {
  const rel = normalize(decodeURIComponent(url.slice('/m/'.length))).replace(/^(\.\.[/\\])+/, '');
  const base = join(modules, rel);
  for (const f of [base, `${base}.js`, join(base, 'index.js')]) {
    if (existsSync(f) && statSync(f).isFile()) return f;
  }
  return null;
}

const herald = await startHerald();
let browser;
let server;
const node = client(herald);
try {
  const hellos = [];
  const watcher = node.channel('browser-news').on('broadcast', { event: 'hello' }, (m) => hellos.push(m.payload));
  await subscribed(watcher);
  server = http.createServer((req, res) => {
    if (req.url.startsWith('/m/')) {
      const f = moduleFile(req.url);
      res.writeHead(f ? 200 : 404, { 'content-type': 'text/javascript' });
      res.end(f ? readFileSync(f) : '');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page(herald.port));
  });
  const pagePort = await freePort();
  await new Promise((r) => server.listen(pagePort, '127.0.0.1', r));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const tab = await browser.newPage();
  const errors = [];
  tab.on('pageerror', (e) => errors.push(String(e)));
  await tab.goto(`http://127.0.0.1:${pagePort}/`);
  await waitFor(`the page to subscribe (errors: ${errors.join('; ')})`, async () => (await tab.textContent('#status')) === 'SUBSCRIBED');
  await waitFor('the browser broadcast at the Node client', () => hellos.length === 1);
  await waitFor('the browser in presence', () => watcher.presenceState().page?.[0]?.where === 'browser');
  await herald.publish('realtime:browser-news', { event: 'headline', data: { title: 'Herald speaks Supabase' } });
  await waitFor('the headline on the page', async () => (await tab.textContent('#log')).includes('Herald speaks Supabase'));
  console.log('ok - chromium page with realtime-js: subscribed, broadcast both ways, presence');
} finally {
  node.disconnect();
  await browser?.close();
  server?.close();
  await herald.close();
}
