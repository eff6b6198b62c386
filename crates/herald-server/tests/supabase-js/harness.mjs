// Shared set-up for the Supabase Realtime tests: a running herald and
// realtime-js clients (Node 20 has no global WebSocket: the `ws` package is
// the client's transport, as the realtime-js docs say for Node < 22).
import { RealtimeClient } from '@supabase/realtime-js';
import WebSocket from 'ws';
import { Herald, freePort, sleep, waitFor } from '../node/herald.mjs';

export { Herald, freePort, sleep, waitFor, WebSocket };

export const LIMITS = `[limits]
messages_per_conn_per_sec = 10000
messages_per_conn_burst = 10000
api_calls_per_sec = 100000
api_calls_burst = 100000
`;

/** Start herald with `extra` appended to its herald.toml (`top`: top-level keys, before any section). */
export async function startHerald(extra = '', { top = '' } = {}) {
  const herald = new Herald(`ephemeral = true\n${top}${LIMITS}${extra}`);
  await herald.start();
  return herald;
}

/** A realtime-js client of `herald` (`vsn` 2.0.0 unless given). */
export function client(herald, { apikey = 'anon-key', vsn, path = '/realtime/v1', ...rest } = {}) {
  const opts = { params: { apikey }, transport: WebSocket, ...rest };
  if (vsn) opts.vsn = vsn;
  return new RealtimeClient(`ws://127.0.0.1:${herald.port}${path}`, opts);
}

/** Subscribe `channel`; resolves with the first status realtime-js reports (and its error). */
export function subscribe(channel, timeout) {
  return new Promise((resolve) => {
    let done = false;
    channel.subscribe((status, err) => {
      if (done) return;
      done = true;
      resolve({ status, err });
    }, timeout);
  });
}

/** Subscribe and insist on SUBSCRIBED. */
export async function subscribed(channel) {
  const { status, err } = await subscribe(channel);
  if (status !== 'SUBSCRIBED') throw new Error(`expected SUBSCRIBED, got ${status}: ${err}`);
  return channel;
}

/** A native Herald WebSocket client (the wire protocol, docs/protocol.md). */
export async function native(herald, token) {
  const ws = new WebSocket(`ws://127.0.0.1:${herald.port}/ws`);
  const frames = [];
  ws.on('message', (m) => frames.push(JSON.parse(m.toString())));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  let id = 1;
  const request = async (req) => {
    const my = ++id;
    ws.send(JSON.stringify({ id: my, ...req }));
    const reply = await waitFor(`native reply to ${req.op}`, () => frames.find((f) => f.id === my));
    if (reply.error) throw new Error(`${req.op}: ${JSON.stringify(reply.error)}`);
    return reply.result;
  };
  ws.send(JSON.stringify({ id: 1, op: 'connect', ...(token ? { token } : {}) }));
  await waitFor('native connect reply', () => frames.find((f) => f.id === 1));
  return { ws, frames, request, close: () => ws.close() };
}
