// @vitest-environment jsdom
// Database change feeds in the SDK (docs/changes.md): typed `change` events
// on `db:` channels, and `useTable`, a live row set, against a real Herald
// reading a real PostgreSQL with logical replication.
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import { Herald, type ChangeData, type ChangeEvent, type Position } from "@herald/client";
import { HeraldProvider, useTable } from "@herald/react";
import { api, startHerald, until, type HeraldProcess } from "../../test-support/herald.js";
import { startLogicalPg, type LogicalPg } from "../../test-support/logical-pg.js";

interface Todo extends Record<string, unknown> {
  id: number;
  list_id: number;
  title: string;
}

let pg: LogicalPg;
let herald: HeraldProcess;

beforeAll(async () => {
  pg = await startLogicalPg();
  pg.sql(`
    CREATE TABLE todos (id int PRIMARY KEY, list_id int NOT NULL, title text NOT NULL);
    ALTER TABLE todos REPLICA IDENTITY FULL;
    CREATE TABLE notes (id int PRIMARY KEY, body text);`);
  herald = await startHerald({
    config: `[changes]\nurl = "${pg.url}"\nstatus_interval_ms = 200\nlag_check_secs = 1\n`,
  });
  await until(
    async () => (await (await fetch(`${herald.httpUrl}/metrics`)).text()).includes("herald_changes_connected 1"),
    30_000,
    "the change feed to connect",
  );
}, 90_000);

afterAll(async () => {
  await herald?.stop();
  await pg?.stop();
});

afterEach(() => cleanup());

const client = () => new Herald({ url: herald.wsUrl, WebSocket: NodeWebSocket as never });

describe("change events", () => {
  it("arrive typed, filtered by the server, with old rows", async () => {
    const h = client();
    const todos = h.channel<ChangeData<Todo>>("db:public.todos", { filter: "list_id=eq.7" });
    const seen: ChangeEvent<Todo>[] = [];
    todos.on("change", (c) => seen.push(c));
    await todos.subscribe();
    pg.sql(`INSERT INTO todos VALUES (1, 7, 'milk'), (2, 8, 'not mine');
            UPDATE todos SET title = 'oat milk' WHERE id = 1;
            DELETE FROM todos WHERE id = 1;`);
    await until(() => seen.length >= 3, 15_000, "three changes of list 7");
    expect(seen.map((c) => c.type)).toEqual(["INSERT", "UPDATE", "DELETE"]);
    expect(seen[0]!.new).toEqual({ id: 1, list_id: 7, title: "milk" });
    expect(seen[1]!.old).toEqual({ id: 1, list_id: 7, title: "milk" });
    expect(seen[1]!.new?.title).toBe("oat milk");
    expect(seen[2]!.old?.id).toBe(1);
    expect(seen[0]!.columns).toContainEqual({ name: "title", type: "text" });
    expect(seen[0]!.table).toBe("todos");
    expect(seen.every((c) => c.channel === "db:public.todos")).toBe(true);
    // Nothing of list 8 reached this subscription.
    expect(seen.some((c) => c.new?.list_id === 8 || c.old?.list_id === 8)).toBe(false);
    h.close();
  });

  it("a malformed filter is refused with invalid_filter (120)", async () => {
    const h = client();
    await expect(h.channel("db:public.todos", { filter: "list_id=like.7" }).subscribe()).rejects.toMatchObject({ code: 120 });
    h.close();
  });
});

function TodoList({ initialRows, since }: { initialRows: Todo[]; since: Position }) {
  const { rows, status, stale } = useTable<Todo>("public.todos", {
    filter: "list_id=eq.42",
    initialRows,
    since,
    order: (a, b) => a.id - b.id,
  });
  return (
    <div>
      <p data-testid="status">{status}</p>
      <p data-testid="stale">{String(stale)}</p>
      <ul data-testid="rows">
        {rows.map((r) => (
          <li key={r.id}>{`${r.id}:${r.title}`}</li>
        ))}
      </ul>
    </div>
  );
}

const rowsText = () => [...screen.getByTestId("rows").querySelectorAll("li")].map((li) => li.textContent).join(",");

describe("useTable", () => {
  it("keeps the app's rows current and misses nothing committed between the query and the subscription", async () => {
    // What a Server Component does: read the channel's position, then query.
    pg.sql(`INSERT INTO todos VALUES (100, 42, 'first')`);
    await until(async () => {
      const info = await api<{ offset: number }>(herald.httpUrl, `/api/history/${encodeURIComponent("db:public.todos")}?limit=100`);
      return JSON.stringify(info).includes('"first"');
    }, 15_000, "the first row in the feed");
    const pos = await api<{ epoch: string; offset: number }>(herald.httpUrl, `/api/channels/${encodeURIComponent("db:public.todos")}`);
    const since: Position = { epoch: pos.epoch, offset: pos.offset };
    const initialRows = pg
      .sql(`SELECT id, list_id, title FROM todos WHERE list_id = 42 ORDER BY id`)
      .trim()
      .split("\n")
      .map((line) => {
        const [id, list, title] = line.split("|");
        return { id: Number(id), list_id: Number(list), title: title! };
      });
    expect(initialRows).toEqual([{ id: 100, list_id: 42, title: "first" }]);
    // The gap: committed after the query, before the page subscribes.
    pg.sql(`INSERT INTO todos VALUES (101, 42, 'in the gap'); UPDATE todos SET title = 'first!' WHERE id = 100;`);
    await until(async () => {
      const p = await api<{ offset: number }>(herald.httpUrl, `/api/channels/${encodeURIComponent("db:public.todos")}`);
      return p.offset >= since.offset + 2;
    }, 15_000, "the gap's changes in the feed");

    const h = client();
    render(
      <HeraldProvider client={h}>
        <TodoList initialRows={initialRows} since={since} />
      </HeraldProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("subscribed"), { timeout: 10_000 });
    await waitFor(() => expect(rowsText()).toBe("100:first!,101:in the gap"), { timeout: 10_000 });
    expect(screen.getByTestId("stale").textContent).toBe("false");

    // Live: an insert, a row leaving the filtered set, a delete, another list's row.
    pg.sql(`INSERT INTO todos VALUES (102, 42, 'live'), (103, 9, 'other list');
            UPDATE todos SET list_id = 9 WHERE id = 101;
            DELETE FROM todos WHERE id = 100;`);
    await waitFor(() => expect(rowsText()).toBe("102:live"), { timeout: 15_000 });
    h.close();
  });
});
