/**
 * Automatic transport fallback: WebSocket → SSE (+ HTTP publish) →
 * long-poll, and back.
 *
 * A transport "failed" when it ended before delivering a single frame (the
 * upgrade was refused, or a proxy swallowed the socket until the client's
 * connect timeout). The client then asks the server's `/healthz` over plain
 * HTTP at once: if it answers, the server is up and the transport is being
 * blocked; after two such failures in a row the next transport in the list
 * is used. If `/healthz` does not answer, the server is down and the same
 * transport is tried again (a restart is not mistaken for a blocked network). While on a fallback, the best transport is tried
 * again every `retryBestAfterMs` (the client reconnects and recovers).
 */
import { httpBase } from "./http-transport.js";
import { pollTransport } from "./poll-transport.js";
import { sseTransport } from "./sse-transport.js";
import { webSocketTransport, type Transport, type TransportFactory, type TransportHandlers, type WebSocketConstructor } from "./transport.js";

export interface FallbackOptions {
  /** While on a fallback, try the first transport again after this long. Default 300 000 ms (5 min). */
  retryBestAfterMs?: number;
  /** For the `/healthz` probe (default: the global fetch). */
  fetch?: typeof fetch;
}

/** A transport factory with a name (reported by `herald.transportName`). */
export interface NamedTransport {
  name: string;
  factory: TransportFactory;
}

/** Tries `transports` in order, moving down when one is blocked and back up later. */
export function fallbackTransport(transports: NamedTransport[], options: FallbackOptions = {}): TransportFactory {
  if (transports.length === 0) throw new Error("fallbackTransport needs at least one transport");
  const retryBestAfterMs = options.retryBestAfterMs ?? 300_000;
  let level = 0;
  /** The probe started when the last attempt failed (resolves to "the server was reachable"). */
  let probe: Promise<boolean> | undefined;
  let blockedInARow = 0;

  const reachable = async (url: string): Promise<boolean> => {
    const f = options.fetch ?? (globalThis as { fetch?: typeof fetch }).fetch;
    if (!f) return false;
    try {
      // no-cors: in a browser an opaque answer still proves the server is reachable.
      const res = await f(`${httpBase(url)}/healthz`, { cache: "no-store", mode: "no-cors", signal: AbortSignal.timeout(5000) });
      void res.body?.cancel().catch(() => {});
      return true;
    } catch {
      return false;
    }
  };

  return async (url: string, handlers: TransportHandlers): Promise<Transport> => {
    if (probe) {
      const blocked = await probe;
      probe = undefined;
      blockedInARow = blocked ? blockedInARow + 1 : 0;
      if (blockedInARow >= 2) {
        blockedInARow = 0;
        level = (level + 1) % transports.length;
      }
    }
    const chosen = transports[level]!;
    const myLevel = level;
    let gotFrame = false;
    let ended = false;
    let upgradeTimer: ReturnType<typeof setTimeout> | undefined;
    let inner: Transport | undefined;
    const end = () => {
      ended = true;
      if (upgradeTimer !== undefined) clearTimeout(upgradeTimer);
      upgradeTimer = undefined;
      if (gotFrame && !inner?.blocked) blockedInARow = 0;
      else probe = reachable(url);
    };
    const created = await chosen.factory(url, {
      onOpen: () => handlers.onOpen(),
      onMessage: (text) => {
        if (!gotFrame && myLevel > 0 && retryBestAfterMs > 0) {
          upgradeTimer = setTimeout(() => {
            upgradeTimer = undefined;
            if (ended) return;
            // Try the best transport again: end this one as a server-side going-away (reconnect, recover).
            level = 0;
            end();
            probe = undefined;
            created.close(1000, "trying a better transport");
            handlers.onClose(4000, `retrying ${transports[0]!.name}`);
          }, retryBestAfterMs);
        }
        gotFrame = true;
        handlers.onMessage(text);
      },
      onClose: (code, reason) => {
        if (ended) return;
        end();
        handlers.onClose(code, reason);
      },
    });
    inner = created;
    return {
      name: chosen.name,
      send: (frame) => created.send(frame),
      close: (code, reason) => {
        if (!ended) end();
        created.close(code, reason);
      },
    };
  };
}

/** The client's default: `transports` (default WebSocket, then SSE, then long-poll) behind {@link fallbackTransport}. */
export function defaultTransport(o: {
  transports?: ("websocket" | "sse" | "poll")[];
  WebSocket?: WebSocketConstructor;
  fetch?: typeof fetch;
  retryBestTransportAfterMs?: number;
}): TransportFactory {
  const kinds = o.transports ?? ["websocket", "sse", "poll"];
  const fetchOpt = o.fetch ? { fetch: o.fetch } : {};
  const named: NamedTransport[] = kinds.map((k) => ({
    name: k,
    factory: k === "sse" ? sseTransport(fetchOpt) : k === "poll" ? pollTransport(fetchOpt) : webSocketTransport(o.WebSocket),
  }));
  if (named.length === 1) return named[0]!.factory;
  return fallbackTransport(named, { ...fetchOpt, retryBestAfterMs: o.retryBestTransportAfterMs ?? 300_000 });
}
