import type { Pool } from "pg";

// The orders table: rows written with plain SQL (Server Actions, psql, any
// other program), pages kept current by Herald's change feed on channel
// `db:public.orders` (docs/changes.md).

export const ORDERS_TABLE = "public.orders";
export const ORDERS_CHANNEL = `db:${ORDERS_TABLE}`;
export const ORDER_STATUSES = ["new", "paid", "shipped"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * One row, as both the query below and the change feed give it: `id` is an
 * `int4` (a JSON number on both sides; `pg` would return an `int8` as a
 * string, and the row key would not match), `total` a `numeric`, a string
 * on both sides so no cent is lost, `created_at` an ISO 8601 string.
 */
export interface Order extends Record<string, unknown> {
  id: number;
  customer: string;
  item: string;
  total: string;
  status: OrderStatus;
  created_at: string;
}

/** Newest first. */
export const byNewest = (a: Order, b: Order) => b.id - a.id;

// REPLICA IDENTITY FULL: a DELETE (and an UPDATE's `old`) carries the whole
// old row, not only the key (docs/changes.md, Events).
const SCHEMA = `
CREATE TABLE IF NOT EXISTS public.orders (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer text NOT NULL,
  item text NOT NULL,
  total numeric(10, 2) NOT NULL CHECK (total >= 0),
  status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'paid', 'shipped')),
  created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE public.orders REPLICA IDENTITY FULL;`;

let created: Promise<void> | undefined;

/** Creates the table on first use (once per process), so `DATABASE_URL` is all the set-up the page needs. */
export function ensureOrdersTable(db: Pool): Promise<void> {
  created ??= db
    .query(SCHEMA)
    .then(() => undefined)
    .catch((e: unknown) => {
      created = undefined;
      throw e;
    });
  return created;
}

/** The rows, in the shape the change feed sends them (`created_at` as ISO 8601). */
export async function queryOrders(db: Pool): Promise<Order[]> {
  await ensureOrdersTable(db);
  const r = await db.query<Order>(
    `SELECT id, customer, item, total::text AS total, status,
            to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') AS created_at
       FROM public.orders ORDER BY id DESC LIMIT 200`,
  );
  return r.rows;
}

/**
 * Whether Herald reads this app's database: `herald_changes_connected` in
 * Herald's `/metrics` is 1 while the change feed streams, 0 while it is
 * configured but cannot reach PostgreSQL, and absent when Herald was started
 * without `--changes` (then the table's channel still subscribes, but no
 * change ever arrives, so the page says so).
 */
export type ChangeFeedState = "connected" | "disconnected" | "off" | "unknown";

export async function changeFeedState(heraldUrl: string, apiKey: string | undefined): Promise<ChangeFeedState> {
  try {
    const r = await fetch(`${heraldUrl.replace(/\/$/, "")}/metrics`, {
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      cache: "no-store",
    });
    if (!r.ok) return "unknown";
    const line = (await r.text()).split("\n").find((l) => l.startsWith("herald_changes_connected "));
    if (line === undefined) return "off";
    return line.trim().endsWith(" 1") ? "connected" : "disconnected";
  } catch {
    return "unknown";
  }
}
