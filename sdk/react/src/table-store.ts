import {
  decodeChange,
  rowMatches,
  type Channel,
  type ChangeEvent,
  type ChangeFilter,
  type ChannelStatus,
  type Herald,
  type Position,
  type Row,
} from "@herald/client";
import { acquireChannel, ExternalStore, perClient } from "./stores.js";

/**
 * A live row set of one table (`useTable`): the rows the app passed, kept
 * current by the table's change feed (docs/changes.md). Changes are applied
 * as "set this row" / "remove this key", so replaying a change the initial
 * rows already contain changes nothing: that is what closes the gap between
 * the app's query and the subscription (see `UseTableOptions.since`).
 */
export interface TableSnapshot<R extends Row> {
  rows: readonly R[];
  status: ChannelStatus;
  /**
   * The row set may have missed changes: a recovery from `since` (or after a
   * reconnect) could not replay all of them. Query the rows again (for
   * instance `router.refresh()`) and pass a fresh `since`.
   */
  stale: boolean;
}

export interface TableStoreOptions<R extends Row> {
  key: readonly string[];
  filter: string | undefined;
  order: ((a: R, b: R) => number) | undefined;
}

const EMPTY_ROWS: readonly never[] = Object.freeze([]);
export const EMPTY_TABLE: TableSnapshot<never> = Object.freeze({ rows: EMPTY_ROWS, status: "unsubscribed", stale: false });

export class TableStore<R extends Row> extends ExternalStore<TableSnapshot<R>> {
  private readonly rows = new Map<string, R>();
  /** The last change applied (epoch and offset): replays and live changes at or below it are skipped. */
  private applied: Position | undefined;
  /** While `reset` reads history: live changes wait here, then follow it in order. */
  private held: ChangeEvent<R>[] | undefined;

  constructor(
    private readonly client: Herald,
    private readonly channel: Channel<unknown>,
    initial: readonly R[],
    private readonly options: TableStoreOptions<R>,
  ) {
    super(EMPTY_TABLE as TableSnapshot<R>);
    for (const r of initial) this.rows.set(this.keyOf(r), r);
    this.snapshot = { rows: this.sorted(), status: channel.status, stale: false };
  }

  private keyOf(row: Partial<R>): string {
    return JSON.stringify(this.options.key.map((k) => row[k] ?? null));
  }

  private sorted(): readonly R[] {
    const rows = [...this.rows.values()];
    return this.options.order ? rows.sort(this.options.order) : rows;
  }

  /** Applies a change once, in offset order; `true` when the row set changed. */
  private take(c: ChangeEvent<R>): boolean {
    if (this.held) {
      this.held.push(c);
      return false;
    }
    return this.advance(c);
  }

  private advance(c: ChangeEvent<R>): boolean {
    if (this.applied && c.epoch === this.applied.epoch && c.offset <= this.applied.offset) return false;
    this.applied = { epoch: c.epoch, offset: c.offset };
    return this.apply(c);
  }

  /**
   * Replaces the rows with a fresh query's result, read after `since` was
   * taken (`HeraldServer.channel(name)`), and replays the changes after
   * `since` from history. Clears `stale` when every one could be replayed.
   */
  async reset(rows: readonly R[], since: Position): Promise<void> {
    this.held = [];
    this.rows.clear();
    for (const r of rows) this.rows.set(this.keyOf(r), r);
    this.applied = { ...since };
    let complete = false;
    try {
      const page = await this.channel.history({ since: since.offset, limit: 1000 });
      complete = page.epoch === since.epoch && (page.publications.length === 0 || page.publications.length < 1000);
      for (const p of page.publications) {
        const c = decodeChange<R>(p);
        if (c) this.advance(c);
      }
    } finally {
      const held = this.held;
      this.held = undefined;
      for (const c of held) this.advance(c);
      this.publish(!complete);
    }
  }

  private apply(c: ChangeEvent<R>): boolean {
    switch (c.type) {
      case "TRUNCATE":
        if (this.rows.size === 0) return false;
        this.rows.clear();
        return true;
      case "DELETE":
        return c.old !== null && this.rows.delete(this.keyOf(c.old));
      case "INSERT":
      case "UPDATE": {
        if (!c.new) return false;
        // An UPDATE that changed the key moves the row.
        if (c.old) {
          const oldKey = this.keyOf(c.old);
          if (this.options.key.every((k) => c.old !== null && k in c.old) && oldKey !== this.keyOf(c.new)) this.rows.delete(oldKey);
        }
        const key = this.keyOf(c.new);
        if (!rowMatches(this.options.filter, c.new)) return this.rows.delete(key);
        const before = this.rows.get(key);
        // Unchanged large columns are left out of `new`: keep the values we have.
        const next = c.unchanged && before ? ({ ...before, ...c.new } as R) : c.new;
        this.rows.set(key, next);
        return true;
      }
    }
  }

  private publish(stale = this.snapshot.stale): void {
    this.set({ rows: this.sorted(), status: this.channel.status, stale });
  }

  protected attach(): (() => void)[] {
    const ch = this.channel;
    const cleanups = [
      ch.on("change", (c) => {
        if (this.take(c as ChangeEvent<R>)) this.publish();
      }),
      ch.on("status", () => this.publish()),
      ch.on("subscribed", (e) => {
        // Without a start position there is nothing to recover: the rows are the app's.
        const stale = e.recovered === false;
        if (stale !== this.snapshot.stale) this.publish(stale);
      }),
      acquireChannel(this.client, ch.name),
    ];
    this.publish();
    return cleanups;
  }
}

const tableStores = new WeakMap<Herald, Map<string, TableStore<Row>>>();

/** One store per client and channel: the first options given win (inline objects are new on every render). */
export function tableStore<R extends Row>(
  client: Herald,
  channelName: string,
  initial: readonly R[],
  since: Position | undefined,
  options: TableStoreOptions<R> & Pick<ChangeFilter, "events">,
): TableStore<R> {
  const map = perClient(tableStores, client);
  let s = map.get(channelName);
  if (!s) {
    // `since`: the first subscribe replays the changes after the position the rows were read at.
    const ch = client.channel(channelName, { filter: options.filter, events: options.events, since });
    s = new TableStore<Row>(client, ch, initial, options as unknown as TableStoreOptions<Row>);
    map.set(channelName, s);
  }
  return s as unknown as TableStore<R>;
}
