import type { Channel } from "./channel.js";
import type { HeraldError } from "./errors.js";
import type { Publication, PublishResult } from "./types.js";

export type OptimisticStatus = "pending" | "confirmed" | "failed";

/** One entry of an optimistic list. */
export interface OptimisticItem<T> {
  /** The idempotency key (generated for your publishes; the publisher's key or `offset:N` for others). */
  key: string;
  data: T;
  status: OptimisticStatus;
  /** Set once the server has ordered it. */
  offset?: number;
  /** The server's copy, once it arrived as a publication. */
  publication?: Publication<T>;
  /** Why it failed (only with `keepFailed`). */
  error?: HeraldError;
}

export interface OptimisticListOptions<T> {
  /** Listen to the channel's publications (default true). */
  attach?: boolean;
  /** Keep refused messages in the list with status `failed` instead of removing them. Default false. */
  keepFailed?: boolean;
  /** Called when a message is rolled back (refused by the server, timed out, dropped from the queue). */
  onRollback?: (item: OptimisticItem<T>, error: HeraldError) => void;
  /** Keep at most this many confirmed items (oldest dropped). Default: unlimited. */
  maxItems?: number;
}

/** A list of a channel's messages with optimistic publishes. Works with `useSyncExternalStore`. */
export interface OptimisticList<T> {
  /** The current items: confirmed ones by offset, then pending ones in publish order. A new array after each change. */
  getSnapshot(): readonly OptimisticItem<T>[];
  /** Calls `listener` after each change. Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Shows `data` at once as pending, publishes it, and reconciles or rolls back. */
  publish(data: T): Promise<PublishResult>;
  /** Adds a publication from the server (reconciled with a pending item by idempotency key). */
  add(publication: Publication<T>): void;
  /** Replaces confirmed items with `publications` (e.g. after history()), keeping pending ones. */
  reset(publications: readonly Publication<T>[]): void;
  /** Removes an item (e.g. a failed one the user dismissed). */
  remove(key: string): void;
  /** Detaches from the channel. */
  dispose(): void;
}

function newKey(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return `k-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Optimistic updates for a channel: a published message appears at once as
 * `pending`, becomes `confirmed` when the server acknowledges it or its
 * publication arrives (matched by idempotency key, so it is never shown
 * twice), and is rolled back with the error if the server refuses it.
 */
export function createOptimisticList<T>(channel: Channel<T>, options: OptimisticListOptions<T> = {}): OptimisticList<T> {
  let confirmed: OptimisticItem<T>[] = [];
  let pending: OptimisticItem<T>[] = [];
  let snapshot: readonly OptimisticItem<T>[] = [];
  const listeners = new Set<() => void>();

  const changed = () => {
    confirmed.sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0));
    if (options.maxItems !== undefined && confirmed.length > options.maxItems) {
      confirmed = confirmed.slice(confirmed.length - options.maxItems);
    }
    snapshot = [...confirmed, ...pending];
    for (const l of [...listeners]) l();
  };

  const confirm = (key: string, offset: number, publication?: Publication<T>) => {
    const existing = confirmed.find((i) => i.key === key || i.offset === offset);
    if (existing) {
      if (publication && !existing.publication) {
        const i = confirmed.indexOf(existing);
        confirmed[i] = { ...existing, publication, data: publication.data };
        changed();
      }
      return;
    }
    const idx = pending.findIndex((i) => i.key === key);
    const base = idx >= 0 ? pending[idx] : undefined;
    if (idx >= 0) pending = pending.filter((_, i) => i !== idx);
    if (!base && !publication) return;
    const item: OptimisticItem<T> = {
      key,
      data: publication ? publication.data : (base as OptimisticItem<T>).data,
      status: "confirmed",
      offset,
    };
    if (publication) item.publication = publication;
    confirmed = [...confirmed, item];
    changed();
  };

  const add = (p: Publication<T>) => confirm(p.idempotencyKey ?? `offset:${p.offset}`, p.offset, p);

  const off = options.attach === false ? undefined : channel.on("publication", add);

  return {
    getSnapshot: () => snapshot,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    publish(data) {
      const key = newKey();
      pending = [...pending, { key, data, status: "pending" }];
      changed();
      return channel.publish(data, { idempotencyKey: key }).then(
        (r) => {
          confirm(key, r.offset);
          return r;
        },
        (err: HeraldError) => {
          const item = pending.find((i) => i.key === key);
          if (item) {
            if (options.keepFailed) {
              pending = pending.map((i) => (i.key === key ? { ...i, status: "failed", error: err } : i));
            } else {
              pending = pending.filter((i) => i.key !== key);
            }
            changed();
            options.onRollback?.(item, err);
          }
          throw err;
        },
      );
    },
    add,
    reset(publications) {
      const keep = new Map(confirmed.filter((i) => !i.publication).map((i) => [i.key, i]));
      confirmed = publications.map((p) => {
        const key = p.idempotencyKey ?? `offset:${p.offset}`;
        keep.delete(key);
        return { key, data: p.data, status: "confirmed", offset: p.offset, publication: p };
      });
      // Acked-but-not-yet-seen items stay, unless history already had them at the same offset.
      for (const i of keep.values()) if (!confirmed.some((c) => c.offset === i.offset)) confirmed.push(i);
      const seen = new Set(confirmed.map((c) => c.key));
      pending = pending.filter((i) => !seen.has(i.key));
      changed();
    },
    remove(key) {
      confirmed = confirmed.filter((i) => i.key !== key);
      pending = pending.filter((i) => i.key !== key);
      changed();
    },
    dispose() {
      off?.();
      listeners.clear();
    },
  };
}
