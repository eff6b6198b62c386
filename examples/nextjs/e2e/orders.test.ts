// End-to-end: the orders page, a live table. Rows are written with plain SQL
// (the app's Server Actions, or psql as any other program would); Herald
// reads them from PostgreSQL's log (a throwaway cluster with
// wal_level=logical) and both browsers follow them through `useTable`.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { HeraldProcess } from "../scripts/stack.mjs";
import { ARTIFACTS_DIR, Stack, waitFor } from "./harness";

const stack = new Stack({ database: true });
let alice: Page;
let bob: Page;
const run = Date.now().toString(36);

/** A row on screen by its item text. */
const order = (page: Page, item: string) =>
  page.locator("[data-testid=order]", { has: page.locator(".order-item", { hasText: item }) });

/** The orders on screen, top to bottom, as `item|total|status`. */
async function rowsOn(page: Page): Promise<string[]> {
  return page
    .locator("[data-testid=order]")
    .evaluateAll((trs) =>
      trs.map((tr) => [".order-item", ".num", ".order-status"].map((c) => tr.querySelector(c)?.textContent ?? "").join("|")),
    );
}

/** Opens the page from the navigation (client-side: the browser keeps its one Herald socket). */
async function openOrders(page: Page): Promise<void> {
  await page.getByRole("link", { name: "Orders" }).click();
  await page.waitForURL("**/orders");
  await waitFor("the table to be live", async () => (await page.getByTestId("orders-status").innerText()) === "Live");
}

beforeAll(async () => {
  await stack.start();
  alice = await stack.signIn("Alice");
  bob = await stack.signIn("Bob");
  // The app creates the table on its first query; one row exists before the pages open.
  const r = await fetch(`${stack.next.url}/orders`, { headers: { cookie: await cookieOf(alice) } });
  expect(r.status).toBe(200);
  stack.pg!.sql(`INSERT INTO public.orders (customer, item, total) VALUES ('Dora', 'Teapot ${run}', '19.90')`);
  for (const page of [alice, bob]) await openOrders(page);
});

afterAll(async () => {
  await stack.stop();
});

async function cookieOf(page: Page): Promise<string> {
  return (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
}

describe("orders: a live PostgreSQL table", () => {
  it("the first paint holds the rows the Server Component queried", async () => {
    const html = await (await fetch(`${stack.next.url}/orders`, { headers: { cookie: await cookieOf(bob) } })).text();
    expect(html).toContain(`Teapot ${run}`);
    for (const page of [alice, bob]) expect(await rowsOn(page)).toEqual([`Teapot ${run}|19.90|new`]);
  });

  it("both browsers see inserts from a Server Action and from psql, an update and a delete, live", async () => {
    // A Server Action (plain INSERT, no publish call) in Alice's browser.
    await alice.fill("[data-testid=order-item]", `Espresso beans ${run}`);
    await alice.fill("[data-testid=order-total]", "12.50");
    await alice.click("[data-testid=order-submit]");
    for (const page of [alice, bob]) await order(page, `Espresso beans ${run}`).waitFor({ timeout: 15_000 });
    expect(await order(bob, `Espresso beans ${run}`).innerText()).toContain("Alice");

    // Another program writes to the database directly: psql.
    stack.pg!.sql(`INSERT INTO public.orders (customer, item, total) VALUES ('Warehouse', 'Pallet of mugs ${run}', '1234567.89')`);
    for (const page of [alice, bob]) await order(page, `Pallet of mugs ${run}`).waitFor({ timeout: 15_000 });
    // Newest first, and the numeric total to the cent (a string on the wire, never a float).
    for (const page of [alice, bob]) {
      expect(await rowsOn(page)).toEqual([`Pallet of mugs ${run}|1234567.89|new`, `Espresso beans ${run}|12.50|new`, `Teapot ${run}|19.90|new`]);
    }

    // An update: Bob marks Alice's order paid (Server Action, plain UPDATE).
    await order(bob, `Espresso beans ${run}`).getByTestId("order-advance").click();
    for (const page of [alice, bob]) {
      await order(page, `Espresso beans ${run}`).and(page.locator("[data-status=paid]")).waitFor({ timeout: 15_000 });
    }
    // An update from psql.
    stack.pg!.sql(`UPDATE public.orders SET status = 'shipped' WHERE item = 'Teapot ${run}'`);
    for (const page of [alice, bob]) {
      await order(page, `Teapot ${run}`).and(page.locator("[data-status=shipped]")).waitFor({ timeout: 15_000 });
    }
    await stack.screenshot(bob, "orders");

    // A delete: Alice cancels the warehouse's order; and one from psql.
    await order(alice, `Pallet of mugs ${run}`).getByTestId("order-cancel").click();
    stack.pg!.sql(`DELETE FROM public.orders WHERE item = 'Teapot ${run}'`);
    for (const page of [alice, bob]) {
      await waitFor("the deletes on screen", async () => (await rowsOn(page)).join(",") === `Espresso beans ${run}|12.50|paid`, 15_000);
    }

    // What the database has is what the pages show.
    expect(stack.pg!.sql(`SELECT item, total, status FROM public.orders ORDER BY id`).trim()).toBe(`Espresso beans ${run}|12.50|paid`);
    // One Herald socket per browser the whole time: the table is one more channel on it.
    for (const user of ["Alice", "Bob"]) expect(stack.sockets.get(user)).toEqual({ open: 1, max: 1 });

    // After a reload, the Server Component's query gives the same rows.
    await bob.reload();
    await waitFor("the table to be live again", async () => (await bob.getByTestId("orders-status").innerText()) === "Live");
    expect(await rowsOn(bob)).toEqual([`Espresso beans ${run}|12.50|paid`]);
    expect(stack.problems).toEqual([]);
  });

  it("a Herald started without the change feed: the page says what to fix", async () => {
    // Herald comes back on the same port and data, but without --changes (a common set-up mistake).
    await stack.killHerald();
    const plain = new HeraldProcess({
      port: stack.herald.port,
      dataDir: join(stack.dataDir, "data"),
      secret: stack.secret,
      apiKey: stack.apiKey,
      log: join(ARTIFACTS_DIR, "herald-no-changes.log"),
    });
    await plain.start();
    try {
      // The page says so (Herald's /metrics has no change feed), instead of a table that looks live and never changes.
      await alice.reload();
      const warning = alice.getByTestId("orders-feed");
      await warning.waitFor({ timeout: 15_000 });
      expect(await warning.innerText()).toContain("--changes");
    } finally {
      await plain.stop();
      await stack.restartHerald();
    }
    // With the feed back, the warning is gone and the page is live again.
    await stack.changeFeedConnected();
    await alice.reload();
    await alice.getByTestId("orders").waitFor();
    expect(await alice.getByTestId("orders-feed").count()).toBe(0);
    await waitFor("the table to be live again", async () => (await alice.getByTestId("orders-status").innerText()) === "Live", 30_000);
  });
});
