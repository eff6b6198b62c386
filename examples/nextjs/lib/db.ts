import { Pool } from "pg";

// The app's own PostgreSQL (`DATABASE_URL`), used by the orders page with plain
// SQL. Herald reads the same database's changes (`herald serve --changes`),
// so the app never publishes a row change itself. Unset: the page explains
// how to turn it on, and the rest of the app works as before.

/** `DATABASE_URL`, or undefined when the app runs without a database. */
export function databaseUrl(): string | undefined {
  return process.env.DATABASE_URL || undefined;
}

// One pool per server process (kept across `next dev` reloads of this module).
const g = globalThis as typeof globalThis & { __heraldExamplePool?: { url: string; pool: Pool } };

/** The connection pool, or null when no database is configured. */
export function database(): Pool | null {
  const url = databaseUrl();
  if (!url) return null;
  if (g.__heraldExamplePool?.url !== url) {
    const pool = new Pool({ connectionString: url, max: 5 });
    // An idle client losing its connection must not crash the server; the next query reconnects.
    pool.on("error", (e) => console.error("PostgreSQL pool:", e.message));
    g.__heraldExamplePool = { url, pool };
  }
  return g.__heraldExamplePool.pool;
}
