"use client";

import type { Position } from "@herald/client";
import { useHerald, useTable } from "@herald/react";
import { useRouter } from "next/navigation";
import { useActionState, useEffect, useState, useTransition } from "react";
import { advanceOrder, cancelOrder, placeOrder, type OrderFormState } from "@/app/order-actions";
import { useHydrated } from "@/lib/use-hydrated";
import { byNewest, ORDERS_CHANNEL, ORDERS_TABLE, type Order } from "@/lib/orders";

/**
 * The orders table, live: the rows the Server Component queried, then every
 * change Herald reads from PostgreSQL's log. `since` is the channel's
 * position read before that query, so nothing committed in between is lost.
 */
export function LiveOrders({ initialRows, since }: { initialRows: Order[]; since: Position }) {
  const { rows, status, stale } = useTable<Order>(ORDERS_TABLE, { initialRows, since, order: byNewest });
  const router = useRouter();
  const herald = useHerald();
  // Herald refusing the table's channel (e.g. a token without the subscribe right on db:public.orders).
  const [refused, setRefused] = useState<string | null>(null);
  useEffect(() => herald.channel(ORDERS_CHANNEL).on("error", (e) => setRefused(e.message)), [herald]);
  return (
    <div className="stack">
      <p className="muted" data-testid="orders-status">
        {status === "subscribed" ? "Live" : "Connecting…"}
      </p>
      {refused && status !== "subscribed" ? (
        <p role="alert" className="error" data-testid="orders-refused">
          Herald refused the live table: {refused}
        </p>
      ) : null}
      {stale ? (
        <p role="alert" className="error" data-testid="orders-stale">
          Some changes could not be replayed (older than Herald&apos;s history).{" "}
          <button type="button" className="link" onClick={() => router.refresh()}>
            Reload the rows
          </button>
        </p>
      ) : null}
      <OrderForm />
      {rows.length === 0 ? (
        <p className="muted" data-testid="orders-empty">
          No orders yet.
        </p>
      ) : (
        <table className="orders" data-testid="orders">
          <thead>
            <tr>
              <th>#</th>
              <th>Customer</th>
              <th>Item</th>
              <th className="num">Total</th>
              <th>Placed</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {rows.map((o) => (
              <OrderRow key={o.id} order={o} />
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function OrderRow({ order }: { order: Order }) {
  const [pending, start] = useTransition();
  const hydrated = useHydrated();
  return (
    <tr data-testid="order" data-id={order.id} data-status={order.status}>
      <td>{order.id}</td>
      <td>{order.customer}</td>
      <td className="order-item">{order.item}</td>
      <td className="num">{order.total}</td>
      <td>
        <time dateTime={order.created_at}>{hydrated ? new Date(order.created_at).toLocaleTimeString() : ""}</time>
      </td>
      <td className="order-status">{order.status}</td>
      <td>
        <div className="order-actions">
          {order.status !== "shipped" ? (
            <button type="button" disabled={pending} data-testid="order-advance" onClick={() => start(() => advanceOrder(order.id))}>
              {order.status === "new" ? "Mark paid" : "Mark shipped"}
            </button>
          ) : null}
          <button type="button" className="link" disabled={pending} data-testid="order-cancel" onClick={() => start(() => cancelOrder(order.id))}>
            Cancel
          </button>
        </div>
      </td>
    </tr>
  );
}

function OrderForm() {
  const [state, action, pending] = useActionState<OrderFormState, FormData>(placeOrder, {});
  return (
    <form action={action} className="order-form">
      <input name="item" placeholder="Item" aria-label="Item" data-testid="order-item" maxLength={100} required />
      <input name="total" placeholder="12.50" aria-label="Total" data-testid="order-total" inputMode="decimal" required />
      <button type="submit" disabled={pending} data-testid="order-submit">
        Place order
      </button>
      {state.error ? (
        <span role="alert" className="error">
          {state.error}
        </span>
      ) : null}
    </form>
  );
}
