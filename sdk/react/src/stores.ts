import {
  createOptimisticList,
  type Channel,
  type ChannelEncryptionOptions,
  type ChannelStatus,
  type Herald,
  type Member,
  type OptimisticItem,
  type OptimisticList,
} from "@herald/client";

/**
 * Per-client, per-channel stores shared by every hook on the same channel.
 * The channel subscription is reference-counted and released with a
 * deferred unsubscribe, so React Strict Mode's mount→unmount→mount keeps
 * one subscription (and one socket).
 */

interface ChannelEntry {
  refs: number;
  releaseTimer: ReturnType<typeof setTimeout> | undefined;
}

const entries = new WeakMap<Herald, Map<string, ChannelEntry>>();

/**
 * An external store for `useSyncExternalStore`: `attach()` runs when the
 * first listener subscribes and returns the clean-ups run when the last one
 * leaves (event listeners, channel holds).
 */
export abstract class ExternalStore<S> {
  private readonly listeners = new Set<() => void>();
  private cleanups: (() => void)[] = [];
  protected snapshot: S;

  constructor(initial: S) {
    this.snapshot = initial;
  }

  getSnapshot = (): S => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.cleanups = this.attach();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        const c = this.cleanups;
        this.cleanups = [];
        for (const f of c) f();
      }
    };
  };

  protected set(next: S): void {
    if (next === this.snapshot) return;
    this.snapshot = next;
    for (const l of [...this.listeners]) l();
  }

  protected abstract attach(): (() => void)[];
}

/** The client's map in `maps`, created on first use. */
export function perClient<V>(maps: WeakMap<Herald, Map<string, V>>, client: Herald): Map<string, V> {
  let map = maps.get(client);
  if (!map) {
    map = new Map();
    maps.set(client, map);
  }
  return map;
}

/** Holds a subscription to `name` until the returned function is called (deferred). */
export function acquireChannel(client: Herald, name: string): () => void {
  const map = perClient(entries, client);
  let e = map.get(name);
  if (!e) {
    e = { refs: 0, releaseTimer: undefined };
    map.set(name, e);
  }
  const entry = e;
  entry.refs++;
  if (entry.releaseTimer !== undefined) {
    clearTimeout(entry.releaseTimer);
    entry.releaseTimer = undefined;
  }
  const ch = client.channel(name);
  if (entry.refs === 1 && client.state !== "closed") ch.subscribe().catch(() => {});
  let released = false;
  return () => {
    if (released) return;
    released = true;
    entry.refs--;
    if (entry.refs === 0) {
      entry.releaseTimer = setTimeout(() => {
        entry.releaseTimer = undefined;
        if (entry.refs === 0 && client.state !== "closed") void ch.unsubscribe();
      }, 0);
    }
  };
}

export interface ChannelSnapshot<T> {
  messages: readonly OptimisticItem<T>[];
  status: ChannelStatus;
}

export const EMPTY_CHANNEL: ChannelSnapshot<never> = Object.freeze({ messages: Object.freeze([]), status: "unsubscribed" });
export const EMPTY_MEMBERS: readonly Member[] = Object.freeze([]);

export class ChannelStore<T> extends ExternalStore<ChannelSnapshot<T>> {
  readonly list: OptimisticList<T>;
  historyLimit: number;

  constructor(
    private readonly client: Herald,
    private readonly channel: Channel<T>,
    historyLimit: number,
  ) {
    super(EMPTY_CHANNEL);
    this.historyLimit = historyLimit;
    this.list = createOptimisticList(channel, { attach: false });
  }

  private update = () => {
    const messages = this.list.getSnapshot();
    const status = this.channel.status;
    if (messages !== this.snapshot.messages || status !== this.snapshot.status) this.set({ messages, status });
  };

  protected attach(): (() => void)[] {
    const ch = this.channel;
    const cleanups = [
      this.list.subscribe(this.update),
      ch.on("publication", (p) => this.list.add(p)),
      ch.on("status", this.update),
      ch.on("subscribed", (e) => {
        // First subscribe, or a recovery that failed: reload the last page.
        if (this.historyLimit > 0 && e.recovered !== true) void this.loadHistory();
      }),
      acquireChannel(this.client, ch.name),
    ];
    this.update();
    return cleanups;
  }

  private async loadHistory(): Promise<void> {
    try {
      const h = await this.channel.history({ direction: "backward", limit: this.historyLimit });
      const pubs = [...h.publications].reverse();
      // Keep live publications that arrived after the page was read.
      const live = this.list
        .getSnapshot()
        .filter((i) => i.publication && (i.offset ?? 0) > (pubs[pubs.length - 1]?.offset ?? 0))
        .map((i) => i.publication!);
      this.list.reset([...pubs, ...live]);
    } catch {
      /* history unavailable: keep live messages */
    }
  }
}

const memberKey = (m: Member) => m.user ?? m.client;

export class PresenceStore extends ExternalStore<readonly Member[]> {

  constructor(
    private readonly client: Herald,
    private readonly channel: Channel<unknown>,
  ) {
    super(EMPTY_MEMBERS);
  }

  /** Sets your member's state (kept by the channel and sent again after reconnects). */
  setState = async (state: unknown): Promise<void> => {
    await this.channel.setPresenceState(state);
    // The server pushes `presence_update` to the others only: read our own member back.
    if (this.channel.status === "subscribed") this.load();
  };

  private load(): void {
    this.channel.presence().then(
      (m) => this.set(m),
      () => {},
    );
  }

  protected attach(): (() => void)[] {
    const ch = this.channel;
    const without = (m: Member) => this.snapshot.filter((x) => memberKey(x) !== memberKey(m));
    const cleanups = [
      ch.on("subscribed", () => this.load()),
      ch.on("join", (m) => this.set([...without(m), m])),
      ch.on("leave", (m) => this.set(without(m))),
      ch.on("presence_update", (m) => {
        const i = this.snapshot.findIndex((x) => memberKey(x) === memberKey(m));
        if (i < 0) {
          this.set([...this.snapshot, m]);
          return;
        }
        const next = [...this.snapshot];
        next[i] = { ...next[i], ...m };
        this.set(next);
      }),
      acquireChannel(this.client, ch.name),
    ];
    if (ch.status === "subscribed") this.load();
    return cleanups;
  }
}

const channelStores = new WeakMap<Herald, Map<string, ChannelStore<unknown>>>();
const presenceStores = new WeakMap<Herald, Map<string, PresenceStore>>();

export function channelStore<T>(
  client: Herald,
  name: string,
  historyLimit: number,
  encryption?: ChannelEncryptionOptions,
): ChannelStore<T> {
  // The first options given win (a component's inline object is new on every render).
  if (encryption && !client.channel(name).encrypted) client.channel(name, { encryption });
  const map = perClient(channelStores, client);
  let s = map.get(name);
  if (!s) {
    s = new ChannelStore<unknown>(client, client.channel(name), historyLimit);
    map.set(name, s);
  } else if (historyLimit > s.historyLimit) {
    s.historyLimit = historyLimit;
  }
  return s as ChannelStore<T>;
}

export function presenceStore(client: Herald, name: string): PresenceStore {
  const map = perClient(presenceStores, client);
  let s = map.get(name);
  if (!s) {
    s = new PresenceStore(client, client.channel(name));
    map.set(name, s);
  }
  return s;
}
