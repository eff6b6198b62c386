// Laravel Echo (1.x) with its pusher connector against herald's Pusher door:
// a public channel, a private channel (auth endpoint on the pusher SDK),
// a presence channel (here/joining/leaving) and whispers between two clients.
// Run: HERALD_BIN=target/debug/herald node echo.test.mjs
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import EchoModule from 'laravel-echo';

// The CommonJS build exports { default: Echo, … }.
const Echo = EchoModule.default ?? EchoModule;
import Pusher from 'pusher-js';
import { APP, start, waitFor } from './harness.mjs';

let env;
const echos = [];

function echo(user) {
  const e = new Echo({
    broadcaster: 'pusher',
    Pusher,
    key: APP.key,
    wsHost: '127.0.0.1',
    wsPort: env.herald.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    cluster: 'mt1',
    authEndpoint: `${env.backendUrl}/api/pusher/auth`,
    auth: { params: { user, name: `User ${user}` } },
  });
  echos.push(e);
  return e;
}

before(async () => {
  env = await start();
});
after(async () => {
  for (const e of echos) e.disconnect();
  await env?.close();
});

test('Echo listens on public and private channels', async () => {
  const e = echo('ann');
  const got = [];
  e.channel('orders').listen('.order.shipped', (d) => got.push(['public', d.id]));
  e.private('orders').listen('.order.paid', (d) => got.push(['private', d.id]));
  await waitFor('both subscriptions', () => {
    const chans = e.connector.pusher.channels.channels;
    return chans.orders?.subscribed && chans['private-orders']?.subscribed;
  });
  await env.server.trigger('orders', 'order.shipped', { id: 1 });
  await env.server.trigger('private-orders', 'order.paid', { id: 2 });
  await waitFor('two events', () => got.length === 2);
  assert.deepEqual(got, [['public', 1], ['private', 2]]);
});

test('Echo presence: here, joining, leaving, and whispers', async () => {
  const a = echo('ben');
  let here = null;
  const joined = [];
  const left = [];
  const whispers = [];
  a.join('lobby')
    .here((members) => (here = members))
    .joining((m) => joined.push(m))
    .leaving((m) => left.push(m))
    .listenForWhisper('typing', (d) => whispers.push(d));
  await waitFor('here', () => here);
  assert.deepEqual(here, [{ name: 'User ben' }]);

  const b = echo('cat');
  let hereB = null;
  const room = b.join('lobby').here((m) => (hereB = m));
  await waitFor('cat sees two members', () => hereB?.length === 2);
  await waitFor('ben sees cat join', () => joined.length === 1);
  assert.deepEqual(joined, [{ name: 'User cat' }]);
  room.whisper('typing', { who: 'cat' });
  await waitFor('the whisper', () => whispers.length === 1);
  assert.deepEqual(whispers, [{ who: 'cat' }]);
  b.leave('lobby');
  await waitFor('ben sees cat leave', () => left.length === 1);
  assert.deepEqual(left, [{ name: 'User cat' }]);
});
