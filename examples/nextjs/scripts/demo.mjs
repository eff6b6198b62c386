// `npm run demo`: Herald on 127.0.0.1:7700 (the example's herald.toml, data
// in ./herald-data) and `next dev` on http://127.0.0.1:3000, both with the
// same HERALD_TOKEN_SECRET. With DATABASE_URL (PostgreSQL, wal_level=logical),
// the app's orders page uses it and Herald publishes its row changes
// (`--changes`). Ctrl-C stops both.
import { join } from "node:path";
import { DEFAULT_SECRET, EXAMPLE_DIR, HeraldProcess, NextProcess, heraldBinary } from "./stack.mjs";

const secret = process.env.HERALD_TOKEN_SECRET ?? DEFAULT_SECRET;
const apiKey = process.env.HERALD_API_KEY || undefined;
const heraldPort = Number(process.env.HERALD_PORT ?? 7700);
const appPort = Number(process.env.PORT ?? 3000);
const databaseUrl = process.env.DATABASE_URL || undefined;

const herald = new HeraldProcess({
  port: heraldPort,
  dataDir: join(EXAMPLE_DIR, "herald-data"),
  secret,
  apiKey,
  changesUrl: databaseUrl,
  bin: heraldBinary({ build: true }),
});
const next = new NextProcess({ mode: "dev", port: appPort, heraldUrl: herald.url, secret, apiKey, databaseUrl });

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  await Promise.all([next.stop(), herald.stop()]);
  process.exit(code);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());

try {
  await herald.start();
  console.log(`herald  ${herald.url}  (herald.toml, data in ./herald-data)`);
  console.log(databaseUrl ? "orders  DATABASE_URL: Herald follows its changes (/orders)" : "orders  off (set DATABASE_URL to a PostgreSQL with wal_level=logical)");
  await next.start();
  console.log(`\n  Open ${next.url} in two browsers (or a normal and a private window) and sign in with two names.\n`);
  for (const p of [herald, next]) {
    p.child?.once("exit", (code) => {
      if (!stopping) {
        console.error(`${p.name} exited (${code}); stopping`);
        void stop(1);
      }
    });
  }
} catch (e) {
  console.error(String(e));
  await stop(1);
}
