import {
  createOptimisticList,
  type Channel,
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

/** The client's map in `maps`, created on first use. */
function perClient<V>(maps: WeakMap<Herald, Map<string, V>>, client: Herald): Map<string, V> {
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

export class ChannelStore<T> {
  readonly list: OptimisticList<T>;
  private snapshot: ChannelSnapshot<T> = EMPTY_CHANNEL;
  private readonly listeners = new Set<() => void>();
  private detach: (() => void)[] = [];
  private release: (() => void) | undefined;
  historyLimit: number;

  constructor(
    private readonly client: Herald,
    private readonly channel: Channel<T>,
    historyLimit: number,
  ) {
    this.historyLimit = historyLimit;
    this.list = createOptimisticList(channel, { attach: false });
  }

  getSnapshot = (): ChannelSnapshot<T> => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  };

  private update = () => {
    const messages = this.list.getSnapshot();
    const status = this.channel.status;
    if (messages !== this.snapshot.messages || status !== this.snapshot.status) {
      this.snapshot = { messages, status };
      for (const l of [...this.listeners]) l();
    }
  };

  private start(): void {
    const ch = this.channel;
    this.detach = [
      this.list.subscribe(this.update),
      ch.on("publication", (p) => this.list.add(p)),
      ch.on("status", this.update),
      ch.on("subscribed", (e) => {
        // First subscribe, or a recovery that failed: reload the last page.
        if (this.historyLimit > 0 && e.recovered !== true) void this.loadHistory();
      }),
    ];
    this.release = acquireChannel(this.client, ch.name);
    this.update();
  }

  private stop(): void {
    for (const d of this.detach) d();
    this.detach = [];
    this.release?.();
    this.release = undefined;
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

export class PresenceStore {
  private members: readonly Member[] = EMPTY_MEMBERS;
  private readonly listeners = new Set<() => void>();
  private detach: (() => void)[] = [];
  private release: (() => void) | undefined;

  constructor(
    private readonly client: Herald,
    private readonly channel: Channel<unknown>,
  ) {}

  getSnapshot = (): readonly Member[] => this.members;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  };

  private set(members: readonly Member[]): void {
    this.members = members;
    for (const l of [...this.listeners]) l();
  }

  private start(): void {
    const key = (m: Member) => m.user ?? m.client;
    const ch = this.channel;
    this.detach = [
      ch.on("subscribed", () => {
        ch.presence().then(
          (m) => this.set(m),
          () => {},
        );
      }),
      ch.on("join", (m) => this.set([...this.members.filter((x) => key(x) !== key(m)), m])),
      ch.on("leave", (m) => this.set(this.members.filter((x) => key(x) !== key(m)))),
    ];
    this.release = acquireChannel(this.client, ch.name);
    if (ch.status === "subscribed") {
      ch.presence().then(
        (m) => this.set(m),
        () => {},
      );
    }
  }

  private stop(): void {
    for (const d of this.detach) d();
    this.detach = [];
    this.release?.();
    this.release = undefined;
  }
}

const channelStores = new WeakMap<Herald, Map<string, ChannelStore<unknown>>>();
const presenceStores = new WeakMap<Herald, Map<string, PresenceStore>>();

export function channelStore<T>(client: Herald, name: string, historyLimit: number): ChannelStore<T> {
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
