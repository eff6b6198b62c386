import type { Position } from "@herald/client";
import type { ReactNode } from "react";
import { LiveOrders } from "@/components/live-orders";
import { apiKey, heraldUrl } from "@/lib/config";
import { database } from "@/lib/db";
import { heraldServer } from "@/lib/herald-server";
import { changeFeedState, ORDERS_CHANNEL, queryOrders, type ChangeFeedState, type Order } from "@/lib/orders";

// Rendered per request: the rows are the database's as of now.
export const dynamic = "force-dynamic";

// A live table: the rows come from PostgreSQL with plain SQL, and every page
// showing them follows Herald's change feed of the table (docs/changes.md).
export default async function OrdersPage() {
  const db = database();
  if (!db) return <NoDatabase />;
  let rows: Order[];
  let since: Position;
  const feed = await changeFeedState(heraldUrl(), apiKey());
  try {
    // First the channel's position, then the query: a row committed between
    // the two is replayed from `since` by useTable, never missed.
    const info = await heraldServer().channel(ORDERS_CHANNEL);
    if (info.epoch === undefined || info.offset === undefined) throw new Error(`Herald gave no position for ${ORDERS_CHANNEL}`);
    since = { epoch: info.epoch, offset: info.offset };
    rows = await queryOrders(db);
  } catch (e) {
    return (
      <OrdersCard>
        <p role="alert" className="error" data-testid="orders-error">
          Could not read the orders: {e instanceof Error ? e.message : String(e)}
        </p>
      </OrdersCard>
    );
  }
  return (
    <OrdersCard>
      <FeedWarning feed={feed} />
      <LiveOrders initialRows={rows} since={since} />
    </OrdersCard>
  );
}

/** Herald not following the database: the table would look live and never change. */
function FeedWarning({ feed }: { feed: ChangeFeedState }) {
  if (feed === "off") {
    return (
      <p role="alert" className="error" data-testid="orders-feed">
        Herald is not reading this database&apos;s changes: start it with <code>--changes</code> (or{" "}
        <code>HERALD_CHANGES_URL</code>) set to the same database as this app&apos;s <code>DATABASE_URL</code>. Until then
        the rows below do not change by themselves.
      </p>
    );
  }
  if (feed === "disconnected") {
    return (
      <p role="alert" className="error" data-testid="orders-feed">
        Herald&apos;s change feed is not connected to PostgreSQL right now (its <code>/readyz</code> says why); changes
        arrive once it is.
      </p>
    );
  }
  return null;
}

function OrdersCard({ children }: { children: ReactNode }) {
  return (
    <div className="orders-page">
      <section className="card">
        <h2>Orders</h2>
        <p className="muted">
          A live table: rows of PostgreSQL&apos;s <code>public.orders</code>, written with plain SQL and followed through
          Herald&apos;s change feed (<code>db:public.orders</code>). Nobody publishes anything: insert a row from psql and
          it shows here.
        </p>
        {children}
      </section>
    </div>
  );
}

function NoDatabase() {
  return (
    <OrdersCard>
      <div className="stack" data-testid="orders-setup">
        <p>
          <strong>No database configured.</strong> This page needs PostgreSQL with <code>wal_level = logical</code>:
        </p>
        <ol>
          <li>
            start the app with <code>DATABASE_URL=postgres://…</code> (it creates the <code>orders</code> table);
          </li>
          <li>
            start Herald with the same database: <code>herald serve --changes postgres://…</code> (or{" "}
            <code>HERALD_CHANGES_URL</code>, or <code>[changes] url</code>), with a role that has <code>REPLICATION</code>.
          </li>
        </ol>
        <p className="muted">
          <code>demo.sh</code> does both when <code>DATABASE_URL</code> is set. See the example&apos;s README and
          docs/changes.md.
        </p>
      </div>
    </OrdersCard>
  );
}
