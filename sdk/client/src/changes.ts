/**
 * Database change feeds (docs/changes.md): a committed PostgreSQL row change
 * is a publication on channel `db:schema.table` whose `data` is a
 * {@link ChangeData}. The channel emits it typed as a `change` event too.
 */
import type { Publication } from "./types.js";

export type ChangeType = "INSERT" | "UPDATE" | "DELETE" | "TRUNCATE";

/** The rows a change carries: column name → value (docs/changes.md, "Values by type"). */
export type Row = Record<string, unknown>;

/** A column of the changed table, with its PostgreSQL type name (`_text` is `text[]`). */
export interface ChangeColumn {
  name: string;
  type: string;
}

/** A change publication's `data`, exactly as the server sends it. */
export interface ChangeData<R extends Row = Row> {
  type: ChangeType;
  schema: string;
  table: string;
  /** The transaction's commit time, ISO 8601 UTC. */
  commit_timestamp: string;
  columns: ChangeColumn[];
  /** The row after an INSERT or UPDATE; null for DELETE and TRUNCATE. */
  new: R | null;
  /** The old row (whole with `REPLICA IDENTITY FULL`, else the key columns); null for INSERT. */
  old: Partial<R> | null;
  /** Large columns an UPDATE did not touch: left out of `new`, never sent as null. */
  unchanged?: string[];
}

/** A `change` event: the change and where it sits in the channel. */
export interface ChangeEvent<R extends Row = Row> extends ChangeData<R> {
  channel: string;
  epoch: string;
  offset: number;
}

/** Which changes a subscription receives (checked by the server; error 120 when malformed). */
export interface ChangeFilter {
  /** A row filter in Supabase's syntax: `list_id=eq.7`, `status=in.(open,done)`, `deleted_at=is.null`. */
  filter?: string;
  /** `"*"` (default), one type, or several. */
  events?: ChangeType | "*" | ChangeType[];
}

const TYPES: ReadonlySet<string> = new Set(["INSERT", "UPDATE", "DELETE", "TRUNCATE"]);

function isRow(v: unknown): v is Row {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The publication as a change event, or `undefined` when its data is not a change. */
export function decodeChange<R extends Row = Row>(p: Publication<unknown>): ChangeEvent<R> | undefined {
  const d = p.data;
  if (!isRow(d) || typeof d.type !== "string" || !TYPES.has(d.type)) return undefined;
  if (typeof d.schema !== "string" || typeof d.table !== "string" || !Array.isArray(d.columns)) return undefined;
  const event: ChangeEvent<R> = {
    channel: p.channel,
    epoch: p.epoch,
    offset: p.offset,
    type: d.type as ChangeType,
    schema: d.schema,
    table: d.table,
    commit_timestamp: String(d.commit_timestamp ?? ""),
    columns: d.columns.filter(isRow).map((c) => ({ name: String(c.name), type: String(c.type) })),
    new: isRow(d.new) ? (d.new as R) : null,
    old: isRow(d.old) ? (d.old as Partial<R>) : null,
  };
  if (Array.isArray(d.unchanged)) event.unchanged = d.unchanged.map(String);
  return event;
}

/** The subscribe frame's `filter`/`events` fields for `f` (none when it asks for everything). */
export function changeFilterFields(f: ChangeFilter): Record<string, string> {
  const fields: Record<string, string> = {};
  if (f.filter) fields.filter = f.filter;
  const events = Array.isArray(f.events) ? f.events.join(",") : f.events;
  if (events && events !== "*") fields.events = events;
  return fields;
}

// ---- the row filter, evaluated on the client to see a row leave the filtered set ----

interface Condition {
  column: string;
  op: string;
  values: string[];
}

function parseFilter(filter: string): Condition | undefined {
  const eq = filter.indexOf("=");
  const dot = filter.indexOf(".", eq + 1);
  if (eq <= 0 || dot < 0) return undefined;
  const column = filter.slice(0, eq);
  const op = filter.slice(eq + 1, dot);
  const raw = filter.slice(dot + 1);
  if (op === "in") {
    const inner = raw.startsWith("(") && raw.endsWith(")") ? raw.slice(1, -1) : raw;
    return { column, op, values: splitList(inner) };
  }
  return { column, op, values: [raw] };
}

/** `a,"b c",d` → [a, b c, d] (PostgREST's list syntax; quotes keep commas). */
function splitList(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    else if (ch === "," && !quoted) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function compare(value: unknown, literal: string): number | undefined {
  if (value === null || value === undefined) return undefined;
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  const m = Number(literal);
  if (!Number.isNaN(n) && !Number.isNaN(m) && literal.trim() !== "") return n === m ? 0 : n < m ? -1 : 1;
  const a = typeof value === "string" ? value : String(value);
  return a === literal ? 0 : a < literal ? -1 : 1;
}

/**
 * Whether `row` passes `filter` (the syntax of docs/changes.md). The server
 * sends an UPDATE when the new **or** the old row passes, so a row that
 * leaves the filtered set arrives as an UPDATE whose new row fails this test.
 * A filter this function cannot read passes every row (the server checked it).
 */
export function rowMatches(filter: string | undefined, row: Row): boolean {
  if (!filter) return true;
  const c = parseFilter(filter);
  if (!c) return true;
  if (!(c.column in row)) return false;
  const v = row[c.column];
  if (c.op === "is") return c.values[0] === "null" ? v === null : true;
  if (c.op === "in") return c.values.some((lit) => compare(v, lit) === 0);
  const cmp = compare(v, c.values[0] ?? "");
  if (cmp === undefined) return false;
  switch (c.op) {
    case "eq":
      return cmp === 0;
    case "neq":
      return cmp !== 0;
    case "lt":
      return cmp < 0;
    case "lte":
      return cmp <= 0;
    case "gt":
      return cmp > 0;
    case "gte":
      return cmp >= 0;
    default:
      return true;
  }
}
