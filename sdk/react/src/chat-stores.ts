import type { Herald, HeraldError, Notification, ReadPosition } from "@herald/client";
import { acquireChannel, ExternalStore, perClient } from "./stores.js";

/**
 * Stores behind `useTyping`, `useReadReceipts` and `useNotifications`: one
 * per client (and channel), shared by every hook that reads it.
 */

export const EMPTY_TYPING: readonly string[] = Object.freeze([]);
export const EMPTY_POSITIONS: readonly ReadPosition[] = Object.freeze([]);

/** Who is typing in a channel (user ids; the server never reports your own connections). */
export class TypingStore extends ExternalStore<readonly string[]> {
  private lastSent = -Infinity;
  throttleMs: number;

  constructor(
    private readonly client: Herald,
    private readonly name: string,
    throttleMs: number,
  ) {
    super(EMPTY_TYPING);
    this.throttleMs = throttleMs;
  }

  /** Sends `typing` at most once per `throttleMs`; the server keeps the indicator alive in between. */
  notifyTyping = (): void => {
    const now = Date.now();
    if (now - this.lastSent < this.throttleMs) return;
    const ch = this.client.channel(this.name);
    if (ch.status !== "subscribed") return;
    this.lastSent = now;
    ch.notifyTyping().catch(() => {
      this.lastSent = -Infinity;
    });
  };

  protected attach(): (() => void)[] {
    const ch = this.client.channel(this.name);
    return [
      ch.on("typing", (e) => {
        const others = this.snapshot.filter((u) => u !== e.user);
        this.set(e.typing ? [...others, e.user] : others.length === this.snapshot.length ? this.snapshot : others);
      }),
      // Indicators end with the subscription: the server sends no `typing:false` to a gone connection.
      ch.on("unsubscribed", () => this.set(EMPTY_TYPING)),
      acquireChannel(this.client, this.name),
    ];
  }
}

/** `base` with `more` merged in (each user's furthest offset), furthest first; `base` itself when nothing moved. */
export function mergePositions(base: readonly ReadPosition[], more: readonly ReadPosition[]): readonly ReadPosition[] {
  const byUser = new Map(base.map((p) => [p.user, p.offset]));
  let changed = false;
  for (const p of more) {
    if ((byUser.get(p.user) ?? -1) < p.offset) {
      byUser.set(p.user, p.offset);
      changed = true;
    }
  }
  if (!changed) return base;
  return [...byUser].map(([user, offset]) => ({ user, offset })).sort((a, b) => b.offset - a.offset);
}

/** Users' read positions in a channel ("seen by"), newest first. */
export class ReadReceiptsStore extends ExternalStore<readonly ReadPosition[]> {
  private myMark = 0;
  load: (() => Promise<readonly ReadPosition[]>) | undefined;

  constructor(
    private readonly client: Herald,
    private readonly name: string,
  ) {
    super(EMPTY_POSITIONS);
  }

  /** Merges positions (each user's only moves forward). */
  merge = (positions: readonly ReadPosition[]): void => {
    this.set(mergePositions(this.snapshot, positions));
  };

  /** Marks `offset` read (skipped when not beyond your last mark from this client). */
  markRead = async (offset: number): Promise<void> => {
    if (offset <= this.myMark) return;
    const previous = this.myMark;
    this.myMark = offset;
    try {
      const r = await this.client.channel(this.name).markRead(offset);
      this.myMark = Math.max(this.myMark, r.offset);
    } catch (e) {
      // Refused (e.g. past the top): a later mark of this offset is sent again.
      if (this.myMark === offset) this.myMark = previous;
      throw e;
    }
  };

  /** Loads the current positions: the app's `load`, else over the connection. */
  private reload(): void {
    const load = this.load ?? (async () => (await this.client.channel(this.name).readPositions()).members);
    load().then(this.merge, () => {});
  }

  protected attach(): (() => void)[] {
    const ch = this.client.channel(this.name);
    const cleanups = [
      ch.on("read", (p) => this.merge([p])),
      // Reads pushed while disconnected are not replayed: reload after every (re)subscribe.
      ch.on("subscribed", () => this.reload()),
      acquireChannel(this.client, this.name),
    ];
    if (ch.status === "subscribed") this.reload();
    return cleanups;
  }
}

export interface NotificationsSnapshot {
  /** Loaded notifications, newest first. */
  items: readonly Notification[];
  /** Your unread count (`0` until the server reports it). */
  unread: number;
  /** Whether older notifications may exist (`loadMore()`). */
  hasMore: boolean;
  loading: boolean;
  /** The last failed request (e.g. 101 without a signed-in user). */
  error: HeraldError | undefined;
}

export const EMPTY_NOTIFICATIONS: NotificationsSnapshot = Object.freeze({
  items: Object.freeze([]) as readonly Notification[],
  unread: 0,
  hasMore: false,
  loading: false,
  error: undefined,
});

const INBOX_PAGE_MAX = 100;

/** The signed-in user's inbox: loaded pages, live pushes, optimistic read/delete. */
export class NotificationsStore extends ExternalStore<NotificationsSnapshot> {
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  pageSize: number;

  constructor(
    private readonly client: Herald,
    pageSize: number,
  ) {
    super(EMPTY_NOTIFICATIONS);
    this.pageSize = pageSize;
  }

  private patch(p: Partial<NotificationsSnapshot>): void {
    this.set({ ...this.snapshot, ...p });
  }

  private fail = (e: unknown): void => {
    this.patch({ loading: false, error: e as HeraldError });
  };

  /** Reloads the newest notifications (as many as are loaded), keeping older pages. */
  private async refresh(): Promise<void> {
    const limit = Math.min(Math.max(this.snapshot.items.length, this.pageSize), INBOX_PAGE_MAX);
    this.patch({ loading: true });
    try {
      const page = await this.client.inbox.list({ limit });
      const fresh = page.notifications;
      const full = fresh.length === limit;
      const oldest = fresh.length > 0 ? fresh[fresh.length - 1]!.id : Infinity;
      const loaded = this.snapshot.items;
      const older = full ? loaded.filter((n) => n.id < oldest) : [];
      // Full page: older ones may exist, unless this page reaches as far back as we had already looked.
      const reachedLoaded = loaded.length > 0 && oldest <= loaded[loaded.length - 1]!.id;
      this.patch({
        items: [...fresh, ...older],
        unread: page.unread,
        hasMore: full && (older.length > 0 || reachedLoaded ? this.snapshot.hasMore : true),
        loading: false,
        error: undefined,
      });
    } catch (e) {
      this.fail(e);
    }
  }

  private scheduleRefresh(delayMs: number): void {
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      void this.refresh();
    }, delayMs);
  }

  /** Loads the next older page. */
  loadMore = async (): Promise<void> => {
    const items = this.snapshot.items;
    const before = items.length > 0 ? items[items.length - 1]!.id : undefined;
    this.patch({ loading: true });
    try {
      const page = await this.client.inbox.list(before === undefined ? { limit: this.pageSize } : { limit: this.pageSize, before });
      const known = new Set(this.snapshot.items.map((n) => n.id));
      this.patch({
        items: [...this.snapshot.items, ...page.notifications.filter((n) => !known.has(n.id))],
        unread: page.unread,
        hasMore: page.notifications.length === this.pageSize,
        loading: false,
        error: undefined,
      });
    } catch (e) {
      this.fail(e);
    }
  };

  /** Marks one read: shown at once, confirmed (or reloaded) by the server. */
  markRead = async (id: number): Promise<void> => {
    const target = this.snapshot.items.find((n) => n.id === id);
    if (target && !target.read) {
      this.patch({
        items: this.snapshot.items.map((n) => (n.id === id ? { ...n, read: true } : n)),
        unread: Math.max(0, this.snapshot.unread - 1),
      });
    }
    await this.change(() => this.client.inbox.markRead(id));
  };

  markAllRead = async (): Promise<void> => {
    this.patch({ items: this.snapshot.items.map((n) => (n.read ? n : { ...n, read: true })), unread: 0 });
    await this.change(() => this.client.inbox.markAllRead());
  };

  remove = async (id: number): Promise<void> => {
    const target = this.snapshot.items.find((n) => n.id === id);
    this.patch({
      items: this.snapshot.items.filter((n) => n.id !== id),
      unread: target && !target.read ? Math.max(0, this.snapshot.unread - 1) : this.snapshot.unread,
    });
    await this.change(() => this.client.inbox.remove(id));
  };

  private async change(op: () => Promise<number>): Promise<void> {
    try {
      this.patch({ unread: await op() });
    } catch (e) {
      // Refused (e.g. 118 not found): show the server's truth again.
      this.fail(e);
      this.scheduleRefresh(0);
      throw e;
    }
  }

  protected attach(): (() => void)[] {
    const inbox = this.client.inbox;
    const cleanups = [
      inbox.on("notification", (e) => {
        const rest = this.snapshot.items.filter((n) => n.id !== e.notification.id);
        this.patch({ items: [e.notification, ...rest], unread: e.unread });
      }),
      // Sent right after connecting and after any change in any tab: reload what is shown.
      inbox.on("unread", (n) => {
        this.patch({ unread: n });
        this.scheduleRefresh(50);
      }),
      () => {
        if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
        this.refreshTimer = undefined;
      },
    ];
    if (this.client.state === "connected") this.scheduleRefresh(0);
    else if (this.client.state === "idle") this.client.connect();
    return cleanups;
  }
}

const typingStores = new WeakMap<Herald, Map<string, TypingStore>>();
const readStores = new WeakMap<Herald, Map<string, ReadReceiptsStore>>();
const notificationStores = new WeakMap<Herald, Map<string, NotificationsStore>>();

export function typingStore(client: Herald, name: string, throttleMs: number): TypingStore {
  const map = perClient(typingStores, client);
  let s = map.get(name);
  if (!s) map.set(name, (s = new TypingStore(client, name, throttleMs)));
  s.throttleMs = throttleMs;
  return s;
}

export function readReceiptsStore(client: Herald, name: string): ReadReceiptsStore {
  const map = perClient(readStores, client);
  let s = map.get(name);
  if (!s) map.set(name, (s = new ReadReceiptsStore(client, name)));
  return s;
}

export function notificationsStore(client: Herald, pageSize: number): NotificationsStore {
  const map = perClient(notificationStores, client);
  let s = map.get("");
  if (!s) map.set("", (s = new NotificationsStore(client, pageSize)));
  s.pageSize = Math.max(s.pageSize, pageSize);
  return s;
}
