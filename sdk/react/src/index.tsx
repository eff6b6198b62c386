"use client";
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import {
  Herald,
  type ChannelStatus,
  type ConnectionState,
  type HeraldOptions,
  type Member,
  type OptimisticItem,
  type PublishResult,
} from "@herald/client";
import { channelStore, EMPTY_CHANNEL, EMPTY_MEMBERS, presenceStore, type ChannelSnapshot } from "./stores.js";

export type { ChannelSnapshot } from "./stores.js";

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
  const store = channelStore<T>(client, channel, options.history ?? 0);
  const snap: ChannelSnapshot<T> = useSyncExternalStore(store.subscribe, store.getSnapshot, () => EMPTY_CHANNEL);
  const publish = useCallback((data: T) => store.list.publish(data), [store]);
  return { messages: snap.messages, publish, status: snap.status };
}

/** The members of a presence channel (subscribes while mounted). */
export function usePresence<I = unknown>(channel: string): { members: readonly Member<I>[] } {
  const client = useHerald();
  const store = presenceStore(client, channel);
  const members = useSyncExternalStore(store.subscribe, store.getSnapshot, () => EMPTY_MEMBERS);
  return { members: members as readonly Member<I>[] };
}
