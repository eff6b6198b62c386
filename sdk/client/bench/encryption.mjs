// Encryption overhead: publish→receive latency with and without end-to-end
// encryption, 1 KB payloads, against a running herald (node 20+).
//
//   node sdk/client/bench/encryption.mjs [ws://127.0.0.1:7700/ws] [messages per run = 500]
//
// Start herald with the per-connection rate limit raised, e.g. a config of
//   [limits]
//   messages_per_conn_per_sec = 100000
//   messages_per_conn_burst = 100000
// (`npm run build -w @herald/client` first: this imports ../dist).
//
// Two clients on one server: A publishes, B receives. One message in flight at
// a time (unloaded latency), runs interleaved plain / encrypted, 4 runs each.
// Latency is from just before `publish()` (so it includes sealing) to B's
// `publication` event (so it includes opening).
import { Herald } from "../dist/index.js";

const url = process.argv[2] ?? process.env.HERALD_WS_URL ?? "ws://127.0.0.1:7700/ws";
const perRun = Math.min(Number(process.argv[3] ?? 500), 5000);
const RUNS = 4;
const payload = "x".repeat(1024 - 40); // with the fields below, ~1 KB of JSON
const key = { kid: "bench", key: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64") };

const a = new Herald({ url });
const b = new Herald({ url });

async function run(encrypted, runNo) {
  const name = `bench:${encrypted ? "e2e" : "plain"}-${runNo}-${Date.now().toString(36)}`;
  const opts = encrypted ? { encryption: { key } } : {};
  const tx = a.channel(name, opts);
  const rx = b.channel(name, opts);
  let waiting;
  rx.on("publication", (p) => waiting?.(p));
  await rx.subscribe();
  const lat = [];
  let wireBytes = 0;
  for (let i = 0; i < perRun + 20; i++) {
    const got = new Promise((res) => (waiting = res));
    const t0 = performance.now();
    const acked = tx.publish({ i, payload });
    const p = await got;
    if (i >= 20) lat.push(performance.now() - t0); // 20 warm-up messages
    if (p.data.i !== i) throw new Error(`out of order: ${p.data.i} != ${i}`);
    await acked;
  }
  // What Herald stores: the HTTP API's history (no key there).
  const httpUrl = url.replace(/^ws/, "http").replace(/\/ws$/, "");
  const h = await (await fetch(`${httpUrl}/api/history/${encodeURIComponent(name)}?limit=1`)).json();
  wireBytes = JSON.stringify(h.publications[0].data).length;
  await rx.unsubscribe();
  return { lat, wireBytes };
}

const pct = (xs, q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const all = { plain: [], e2e: [] };
const bytes = {};
for (let r = 0; r < RUNS; r++) {
  for (const enc of [false, true]) {
    const { lat, wireBytes } = await run(enc, r);
    all[enc ? "e2e" : "plain"].push(...lat);
    bytes[enc ? "e2e" : "plain"] = wireBytes;
  }
}
a.close();
b.close();

console.log(`publish→receive, 1 KB payload, ${perRun} messages × ${RUNS} runs each, one in flight, ${url}, node ${process.version}`);
console.log("");
console.log("| channel | p50 ms | p99 ms | mean ms | stored data bytes |");
console.log("|---|---|---|---|---|");
for (const k of ["plain", "e2e"]) {
  const xs = all[k].sort((x, y) => x - y);
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const label = k === "plain" ? "plain" : "encrypted (AES-256-GCM)";
  console.log(`| ${label} | ${pct(xs, 0.5).toFixed(3)} | ${pct(xs, 0.99).toFixed(3)} | ${mean.toFixed(3)} | ${bytes[k]} |`);
}
