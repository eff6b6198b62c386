"use server";

// The orders' Server Actions: plain SQL on the app's database. No publish
// call: Herald reads the committed change from PostgreSQL and every page
// showing the table gets it (docs/changes.md).
import { database } from "@/lib/db";
import { ensureOrdersTable, ORDER_STATUSES } from "@/lib/orders";
import { currentUser } from "@/lib/session";

export interface OrderFormState {
  error?: string;
  /** Changes on every accepted submit, so the form can reset. */
  at?: number;
}

async function signedInDatabase() {
  if (!(await currentUser())) throw new Error("Sign in first.");
  const db = database();
  if (!db) throw new Error("No database configured (DATABASE_URL).");
  await ensureOrdersTable(db);
  return db;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Inserts an order placed by the signed-in user. */
export async function placeOrder(_prev: OrderFormState, form: FormData): Promise<OrderFormState> {
  const item = String(form.get("item") ?? "").trim().slice(0, 100);
  const total = String(form.get("total") ?? "").trim();
  if (!item) return { error: "What is ordered?" };
  if (!/^\d{1,8}(\.\d{1,2})?$/.test(total)) return { error: "The total is an amount like 12.50." };
  try {
    const db = await signedInDatabase();
    const me = await currentUser();
    await db.query("INSERT INTO public.orders (customer, item, total) VALUES ($1, $2, $3)", [me?.name ?? "?", item, total]);
    return { at: Date.now() };
  } catch (e) {
    return { error: message(e), at: Date.now() };
  }
}

/** Moves an order one status on (new → paid → shipped). */
export async function advanceOrder(id: number): Promise<void> {
  const db = await signedInDatabase();
  const [, paid, shipped] = ORDER_STATUSES;
  await db.query(
    `UPDATE public.orders SET status = CASE status WHEN 'new' THEN $2 ELSE $3 END WHERE id = $1 AND status <> $3`,
    [id, paid, shipped],
  );
}

/** Deletes an order. */
export async function cancelOrder(id: number): Promise<void> {
  const db = await signedInDatabase();
  await db.query("DELETE FROM public.orders WHERE id = $1", [id]);
}
