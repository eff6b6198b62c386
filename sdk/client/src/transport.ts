/**
 * Transports carry the native protocol's JSON frames. The client speaks
 * frames; a transport only moves text. The WebSocket transport is the
 * default; the SSE transport (`sse-transport.ts`) translates frames to
 * GET /sse + POST /sse/publish, and `fallback.ts` switches between them.
 */

/** Callbacks a transport reports to. Calls after `close()` are ignored by the client. */
export interface TransportHandlers {
  onOpen(): void;
  onMessage(text: string): void;
  /** The transport is gone. `code` is the WebSocket close code (1006 when the socket just dropped). */
  onClose(code: number, reason: string): void;
}

/** One live connection to the server. */
export interface Transport {
  /** `"websocket"`, `"sse"`, `"poll"` (shown as `herald.transportName`). */
  readonly name?: string;
  /** Set when the transport found its way blocked (e.g. an event stream a proxy never delivers): the fallback moves on. */
  readonly blocked?: boolean;
  send(frame: string): void;
  close(code?: number, reason?: string): void;
}

/** Opens a transport to `url`. May be async (e.g. to load the `ws` package in Node). */
export type TransportFactory = (url: string, handlers: TransportHandlers) => Transport | Promise<Transport>;

/** The parts of a WebSocket the client uses (the browser's and the `ws` package's both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: `globalThis.WebSocket` in browsers, `WebSocket` from `ws` in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

interface WebSocketWithHandlers extends WebSocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const g = globalThis as { WebSocket?: WebSocketConstructor };
  if (typeof g.WebSocket === "function") return g.WebSocket;
  // Node < 22 has no global WebSocket: use the `ws` package.
  const mod = (await import("ws")) as unknown as { default?: WebSocketConstructor; WebSocket?: WebSocketConstructor };
  const ctor = mod.WebSocket ?? mod.default;
  if (!ctor) throw new Error("no WebSocket implementation: install the `ws` package or pass `WebSocket`");
  return ctor;
}

/** The WebSocket transport. Pass `WebSocket` to choose the implementation. */
export function webSocketTransport(WebSocketImpl?: WebSocketConstructor): TransportFactory {
  return async (url, handlers) => {
    const Ctor = WebSocketImpl ?? (await defaultWebSocket());
    const ws = new Ctor(url) as WebSocketWithHandlers;
    let closed = false;
    const finish = (code: number, reason: string) => {
      if (closed) return;
      closed = true;
      handlers.onClose(code, reason);
    };
    ws.onopen = () => handlers.onOpen();
    ws.onmessage = (ev) => {
      if (typeof ev.data === "string") handlers.onMessage(ev.data);
    };
    ws.onclose = (ev) => finish(ev.code, ev.reason);
    ws.onerror = () => {
      /* a close event follows */
    };
    return {
      name: "websocket",
      send(frame) {
        if (ws.readyState === 1) ws.send(frame);
      },
      close(code = 1000, reason = "") {
        ws.onopen = null;
        ws.onmessage = null;
        ws.onclose = null;
        ws.onerror = () => {};
        try {
          ws.close(code, reason);
        } catch {
          /* already closing */
        }
        closed = true;
      },
    };
  };
}
