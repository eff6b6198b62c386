import { useCallback, useSyncExternalStore } from "react";
import type { ChangeFilter, ChannelStatus, Position, Row } from "@herald/client";
import { tableStore, type TableSnapshot } from "./table-store.js";
import { useHerald } from "./index.js";

export type { TableSnapshot } from "./table-store.js";

export interface UseTableOptions<R extends Row> extends ChangeFilter {
  /** The rows the app already has (e.g. queried by a Server Component), in any order. */
  initialRows?: readonly R[];
  /**
   * The table channel's position read **before** `initialRows` were queried
   * (`(await herald.channel("db:public.todos"))` with `HeraldServer` from
   * `@herald/next` gives `epoch` and `offset`). The first subscribe replays
   * every change after it, so a row committed between the query and the
   * subscription is not missed; replaying one the query already saw changes
   * nothing. Without it, changes committed in that gap are missed.
   */
  since?: Position;
  /** The primary key column(s). Default `"id"`. */
  key?: string | readonly string[];
  /** Sort order of `rows` (default: initial rows first, then inserts as they come). */
  order?: (a: R, b: R) => number;
  /** The change-feed namespace (`[changes] namespace`). Default `"db"`. */
  namespace?: string;
}

export interface UseTableResult<R extends Row> extends TableSnapshot<R> {
  /** Replaces the rows with a fresh query's and replays the changes after `since` (clears `stale`). */
  reset: (rows: readonly R[], since: Position) => Promise<void>;
}

/**
 * A live row set of a PostgreSQL table (`schema.table`, docs/changes.md):
 * `initialRows` kept current by the change feed while mounted. `filter` is
 * checked by the server (error 120 when malformed); a row that stops
 * matching it leaves the set. The first options given for a table win
 * (one filter per table per client).
 */
export function useTable<R extends Row = Row>(table: string, options: UseTableOptions<R> = {}): UseTableResult<R> {
  const client = useHerald();
  const key = options.key ?? "id";
  const store = tableStore<R>(client, `${options.namespace ?? "db"}:${table}`, options.initialRows ?? [], options.since, {
    key: typeof key === "string" ? [key] : key,
    filter: options.filter,
    events: options.events,
    order: options.order,
  });
  const snap = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  const reset = useCallback((rows: readonly R[], since: Position) => store.reset(rows, since), [store]);
  const status: ChannelStatus = snap.status;
  return { rows: snap.rows, status, stale: snap.stale, reset };
}
