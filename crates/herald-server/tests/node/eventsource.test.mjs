// The npm `eventsource` package (v4, a spec-following EventSource for Node)
// against Herald's /sse: live events on two channels, then the server is
// killed and restarted, and the client's own automatic reconnect (with
// Last-Event-ID) recovers everything published while it was away.
import { EventSource } from 'eventsource';
import { Herald, assertEqual, expected, waitFor } from './herald.mjs';

const channels = ['chat:a', 'news:b'];
const herald = new Herald(''); // default retry: 2000 ms
let es;
try {
  await herald.start();
  es = new EventSource(`${herald.base}/sse?${channels.map((c) => `channel=${c}`).join('&')}`);
  const got = [];
  const connects = [];
  es.addEventListener('connected', (e) => connects.push(JSON.parse(e.data)));
  es.addEventListener('recovery-failed', (e) => {
    throw new Error(`recovery failed: ${e.data}`);
  });
  es.addEventListener('publication', (e) => {
    const p = JSON.parse(e.data);
    got.push([p.channel, p.offset, p.data]);
  });
  await waitFor('the connected event', () => connects.length === 1);

  for (let i = 1; i <= 5; i++) for (const c of channels) await herald.publish(c, `${c}#${i}`);
  await waitFor('5 live publications per channel', () => got.length === 10);

  // A crash: no goodbye, the client sees the connection drop and retries.
  await herald.restart('SIGKILL');
  for (let i = 6; i <= 10; i++) for (const c of channels) await herald.publish(c, `${c}#${i}`);
  assertEqual(connects.length, 1, 'published while the client was away (else nothing is recovered)');
  await waitFor('the reconnect', () => connects.length === 2);
  await waitFor('all 20 publications', () => got.length >= 20);
  await new Promise((r) => setTimeout(r, 300));

  const byChannel = (list) => channels.flatMap((c) => list.filter((p) => p[0] === c));
  assertEqual(byChannel(got), expected(channels, 1, 10), 'publications per channel, in order, each once');
  assertEqual(connects[1].channels.map((c) => c.recovered), [true, true], 'recovered after the restart');
  console.log('ok - eventsource: live on 2 channels, recovered after a server restart');
} finally {
  es?.close();
  await herald.close();
}
