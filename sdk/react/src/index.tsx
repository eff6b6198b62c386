"use client";
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import {
  Herald,
  type ChannelStatus,
  type ChannelEncryptionOptions,
  type ConnectionState,
  type HeraldOptions,
  type Member,
  type Notification,
  type OptimisticItem,
  type PublishResult,
  type ReadPosition,
} from "@herald/client";
import { channelStore, EMPTY_CHANNEL, EMPTY_MEMBERS, presenceStore, type ChannelSnapshot } from "./stores.js";
import {
  EMPTY_NOTIFICATIONS,
  EMPTY_POSITIONS,
  EMPTY_TYPING,
  mergePositions,
  notificationsStore,
  readReceiptsStore,
  typingStore,
  type NotificationsSnapshot,
} from "./chat-stores.js";

export type { ChannelSnapshot } from "./stores.js";
export { useTable } from "./use-table.js";
export type { UseTableOptions, UseTableResult, TableSnapshot } from "./use-table.js";
export type { NotificationsSnapshot } from "./chat-stores.js";

const HeraldContext = createContext<Herald | null>(null);

export interface HeraldProviderProps {
  /** `ws://host:7700/ws`. Ignored when `client` is given. */
  url?: string;
  /** A fixed token. */
  token?: string;
  /** Called before every (re)connect, e.g. `() => fetch("/api/herald-token").then(r => r.json()).then(j => j.token)`. */
  getToken?: () => Promise<string>;
  /** Other client options (WebSocket class, back-off, queue…). */
  options?: Omit<HeraldOptions, "url" | "token" | "getToken">;
  /** Use an existing client instead (the provider then never closes it). */
  client?: Herald;
  children?: ReactNode;
}

/**
 * Provides one Herald client to the tree. The socket opens lazily, in the
 * browser, when the first hook subscribes; never during server rendering.
 * The client is reference-counted with a deferred close, so Strict Mode's
 * double mount keeps one socket.
 */
export function HeraldProvider(props: HeraldProviderProps): ReactNode {
  const getTokenRef = useRef(props.getToken);
  getTokenRef.current = props.getToken;
  const create = (): Herald => {
    if (props.client) return props.client;
    if (!props.url) throw new Error("HeraldProvider needs `url` or `client`");
    const opts: HeraldOptions = { ...props.options, url: props.url };
    if (props.token !== undefined) opts.token = props.token;
    if (props.getToken) opts.getToken = () => (getTokenRef.current as () => Promise<string>)();
    return new Herald(opts);
  };
  const [client, setClient] = useState<Herald>(create);
  const owned = !props.client;
  useEffect(() => {
    if (!owned) return undefined;
    // Effects re-run with preserved state (e.g. <Activity>) after the deferred close: start a fresh client.
    if (client.state === "closed") {
      setClient(create());
      return undefined;
    }
    return client.retain();
    // eslint-disable-next-line react-hooks/exhaustive-deps -- create() reads props once per client
  }, [client, owned]);
  return <HeraldContext.Provider value={client}>{props.children}</HeraldContext.Provider>;
}

/** The client from the nearest `HeraldProvider`. */
export function useHerald(): Herald {
  const c = useContext(HeraldContext);
  if (!c) throw new Error("Herald hooks must be used inside <HeraldProvider>");
  return c;
}

/** The connection state; `"idle"` during server rendering and hydration. */
export function useConnectionState(): ConnectionState {
  const client = useHerald();
  const subscribe = useCallback((cb: () => void) => client.on("state", cb), [client]);
  return useSyncExternalStore(
    subscribe,
    () => client.state,
    () => "idle",
  );
}

export interface UseChannelOptions {
  /** Load the last N publications when subscribing (and again if a recovery fails). Default 0. */
  history?: number;
  /**
   * End-to-end encryption of the channel's `data` (docs/encryption.md), as
   * `herald.channel(name, { encryption })`. The first options given for a
   * channel are kept; decryption failures are the channel's `decrypt_error` events.
   */
  encryption?: ChannelEncryptionOptions;
}

export interface UseChannelResult<T> {
  /** Confirmed messages by offset, then your pending ones (status `pending`). */
  messages: readonly OptimisticItem<T>[];
  /** Publishes optimistically: shown at once as pending, rolled back if refused. */
  publish: (data: T) => Promise<PublishResult>;
  status: ChannelStatus;
}

/** Subscribes to `channel` while mounted. */
export function useChannel<T = unknown>(channel: string, options: UseChannelOptions = {}): UseChannelResult<T> {
  const client = useHerald();
  const store = channelStore<T>(client, channel, options.history ?? 0, options.encryption);
  const snap: ChannelSnapshot<T> = useSyncExternalStore(store.subscribe, store.getSnapshot, () => EMPTY_CHANNEL);
  const publish = useCallback((data: T) => store.list.publish(data), [store]);
  return { messages: snap.messages, publish, status: snap.status };
}

export interface UsePresenceResult<I = unknown> {
  /** One entry per user (several tabs = one member); `state` is what the member set. */
  members: readonly Member<I>[];
  /** Sets your own presence state (e.g. `{ status: "idle" }`); kept across reconnects. */
  setState: (state: unknown) => Promise<void>;
}

/** The members of a presence channel (subscribes while mounted). */
export function usePresence<I = unknown>(channel: string): UsePresenceResult<I> {
  const client = useHerald();
  const store = presenceStore(client, channel);
  const members = useSyncExternalStore(store.subscribe, store.getSnapshot, () => EMPTY_MEMBERS);
  return { members: members as readonly Member<I>[], setState: store.setState };
}

export interface UseTypingOptions {
  /** `notifyTyping()` sends at most once per this many ms. Default 1000 (the server's throttle). */
  throttleMs?: number;
}

export interface UseTypingResult {
  /** Users typing now (user ids; never yours). */
  typing: readonly string[];
  /** Call on each keystroke: throttled, and sent only while subscribed. */
  notifyTyping: () => void;
}

/** Typing indicators of a channel (subscribes while mounted). */
export function useTyping(channel: string, options: UseTypingOptions = {}): UseTypingResult {
  const client = useHerald();
  const store = typingStore(client, channel, options.throttleMs ?? 1000);
  const typing = useSyncExternalStore(store.subscribe, store.getSnapshot, () => EMPTY_TYPING);
  return { typing, notifyTyping: store.notifyTyping };
}

export interface UseReadReceiptsOptions {
  /**
   * Positions known when rendering (e.g. from `herald.readPositions(channel)`
   * in a Server Component, `@herald/next`); merged, never moved back.
   */
  initial?: readonly ReadPosition[];
  /**
   * Loads the current positions; called after every (re)subscribe. Default:
   * `channel.readPositions()` over the connection (not available over SSE
   * or long-poll: pass `initial` or a `load` from your Route Handler there).
   */
  load?: () => Promise<readonly ReadPosition[]>;
}

export interface UseReadReceiptsResult {
  /** Each user's read position, furthest first (yours included once you mark). */
  positions: readonly ReadPosition[];
  /** Marks `offset` as read by you (only forward; needs a signed-in user). */
  markRead: (offset: number) => Promise<void>;
  /** Users who have read `offset`. */
  seenBy: (offset: number) => string[];
}

/** Read receipts of a channel: live `read` pushes merged over `initial`/`load` (subscribes while mounted). */
export function useReadReceipts(channel: string, options: UseReadReceiptsOptions = {}): UseReadReceiptsResult {
  const client = useHerald();
  const store = readReceiptsStore(client, channel);
  if (options.load) store.load = options.load;
  const live = useSyncExternalStore(store.subscribe, store.getSnapshot, () => EMPTY_POSITIONS);
  const initial = options.initial;
  const positions = useMemo(() => (initial ? mergePositions(live, initial) : live), [live, initial]);
  const seenBy = useCallback(
    (offset: number) => positions.filter((p) => p.offset >= offset).map((p) => p.user),
    [positions],
  );
  return { positions, markRead: store.markRead, seenBy };
}

export interface UseNotificationsOptions {
  /** Notifications per page. Default 20 (the server caps pages at 100). */
  pageSize?: number;
}

export interface UseNotificationsResult extends NotificationsSnapshot {
  items: readonly Notification[];
  markRead: (id: number) => Promise<void>;
  markAllRead: () => Promise<void>;
  remove: (id: number) => Promise<void>;
  loadMore: () => Promise<void>;
}

/**
 * The signed-in user's notification inbox: the newest page, live pushes, and
 * the unread count kept in step across tabs. Needs a token with `sub`.
 */
export function useNotifications(options: UseNotificationsOptions = {}): UseNotificationsResult {
  const client = useHerald();
  const store = notificationsStore(client, options.pageSize ?? 20);
  const snap = useSyncExternalStore(store.subscribe, store.getSnapshot, () => EMPTY_NOTIFICATIONS);
  return { ...snap, markRead: store.markRead, markAllRead: store.markAllRead, remove: store.remove, loadMore: store.loadMore };
}
