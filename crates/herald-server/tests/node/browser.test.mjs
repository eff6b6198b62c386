// A browser's own EventSource (Debian chromium, driven by playwright-core)
// against Herald's /sse. The page comes from a tiny static server on another
// origin (so CORS is exercised) and shows what it receives. Herald is
// restarted; the page reconnects by itself and shows the missed messages.
import http from 'node:http';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, Herald, assertEqual, expected, freePort, waitFor } from './herald.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const channels = ['chat:a', 'news:b'];

const page = (sseUrl) => `<!doctype html>
<html><body>
<p id="status">connecting</p>
<ol id="log"></ol>
<script>
  const es = new EventSource(${JSON.stringify(sseUrl)});
  let connects = 0;
  es.addEventListener('connected', () => {
    connects += 1;
    document.getElementById('status').textContent = 'connected ' + connects;
  });
  es.addEventListener('recovery-failed', (e) => {
    document.getElementById('status').textContent = 'recovery failed ' + e.data;
  });
  es.addEventListener('publication', (e) => {
    const p = JSON.parse(e.data);
    const li = document.createElement('li');
    li.textContent = p.channel + ' ' + p.offset + ' ' + p.data;
    document.getElementById('log').appendChild(li);
  });
</script>
</body></html>`;

const herald = new Herald('');
let browser;
let server;
try {
  await herald.start();
  const sseUrl = `${herald.base}/sse?${channels.map((c) => `channel=${c}`).join('&')}`;
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page(sseUrl));
  });
  const pagePort = await freePort();
  await new Promise((r) => server.listen(pagePort, '127.0.0.1', r));

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
  });
  const tab = await browser.newPage();
  await tab.goto(`http://127.0.0.1:${pagePort}/`);
  const status = () => tab.textContent('#status');
  const shown = async () =>
    (await tab.$$eval('#log li', (lis) => lis.map((li) => li.textContent))).map((t) => {
      const [c, o, d] = t.split(' ');
      return [c, Number(o), d];
    });
  await waitFor('the page to connect', async () => (await status()) === 'connected 1');

  for (let i = 1; i <= 5; i++) for (const c of channels) await herald.publish(c, `${c}#${i}`);
  await waitFor('10 live messages on the page', async () => (await shown()).length === 10);

  // A graceful restart: Herald says "disconnect, reconnect" and goes away.
  await herald.restart('SIGTERM');
  for (let i = 6; i <= 10; i++) for (const c of channels) await herald.publish(c, `${c}#${i}`);
  assertEqual(await status(), 'connected 1', 'published while the page was away (else nothing is recovered)');
  await waitFor('the page to reconnect by itself', async () => (await status()) === 'connected 2');
  await waitFor('20 messages on the page', async () => (await shown()).length >= 20);
  await new Promise((r) => setTimeout(r, 300));

  const got = await shown();
  const byChannel = channels.flatMap((c) => got.filter((p) => p[0] === c));
  assertEqual(byChannel, expected(channels, 1, 10), 'the page shows every message once, in order per channel');
  console.log('ok - browser EventSource: live on 2 channels, recovered after a server restart');
} finally {
  await browser?.close();
  server?.close();
  await herald.close();
}
