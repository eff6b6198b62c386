import { Emitter } from "./emitter.js";
import { ClientErrorCode, HeraldError } from "./errors.js";
import type { Frame } from "./outbox.js";

/** One y-websocket protocol message for a collaborative document, pushed by the server. */
export interface DocumentMessageEvent {
  /** The document's channel, e.g. `"doc:spec-42"`. */
  channel: string;
  /** One binary y-websocket message (sync, awareness or query-awareness). */
  data: Uint8Array;
}

export interface DocumentEvents {
  /** A y-websocket message for a document open on this connection. */
  message: DocumentMessageEvent;
}

/** What `open` learned about a document. */
export interface OpenDocumentResult {
  /** Whether this connection may change the document (the publish right); otherwise updates are refused. */
  writable: boolean;
}

/** Standard base64 of `bytes` (works in browsers and Node ≥ 16). */
export function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    bin += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(bin);
}

/** The bytes of a standard base64 string. */
export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** @internal what `Documents` needs from the client. */
export interface DocumentsInternals {
  /** A session request: sent on the current connection, failed when it drops, never queued. */
  session(frame: Frame): Promise<Record<string, unknown>>;
  isConnected(): boolean;
  ensureConnected(): void;
  /** The current transport's name (`"websocket"`, `"sse"`, `"poll"`), while one is open. */
  transportName(): string | undefined;
}

/** The fallback transports: the native frames answered over HTTP, which cannot carry documents. */
const HTTP_TRANSPORTS: ReadonlySet<string> = new Set(["sse", "poll"]);

/**
 * Collaborative (Yjs) documents carried on the client's own connection
 * (`herald.documents`): the raw y-websocket messages, base64 in JSON frames.
 * `@herald/yjs`'s `HeraldYjsProvider` builds on it; apps rarely use it directly.
 *
 * Nothing here is queued while disconnected: a document is open on one
 * connection only, so after every reconnect (`connected` event) open it
 * again and run the y-protocols sync, which exchanges whatever was missed.
 */
export class Documents {
  private readonly events = new Emitter<DocumentEvents>();
  /** The last open/close per channel: they run in call order, so a close then an open (a remount) never overlap. */
  private readonly chains = new Map<string, Promise<void>>();

  /** @internal use `herald.documents` */
  constructor(private readonly internals: DocumentsInternals) {}

  on<K extends keyof DocumentEvents>(event: K, listener: (payload: DocumentEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof DocumentEvents>(event: K, listener: (payload: DocumentEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  /**
   * Opens the document `channel` on the current connection; the server then
   * pushes sync step 1 and the awareness states. Needs the subscribe right
   * (error 103); fails with 1004 (`Disconnected`) when not connected (it
   * starts connecting), and with 1009 (`DocumentsNeedWebSocket`) when the
   * client fell back to SSE or long-polling: documents travel only on a
   * WebSocket.
   */
  async open(channel: string): Promise<OpenDocumentResult> {
    const r = await this.inOrder(channel, () => this.live({ op: "doc_open", channel }));
    return { writable: r.writable === true };
  }

  /** Sends one y-websocket message for an open document. Fails (never queued) when not connected or not on a WebSocket. */
  async send(channel: string, message: Uint8Array): Promise<void> {
    await this.live({ op: "doc", channel, data: bytesToBase64(message) });
  }

  /**
   * Closes the document on this connection; the server drops this
   * connection's awareness states. On SSE or long-polling nothing can be
   * open, so there is nothing to close: it resolves.
   */
  async close(channel: string): Promise<void> {
    await this.inOrder(channel, async () => {
      if (this.onHttpTransport() !== undefined) return {};
      return this.live({ op: "doc_close", channel });
    });
  }

  /** @internal a `doc` push */
  _onPush(msg: Record<string, unknown>): void {
    if (typeof msg.channel !== "string" || typeof msg.data !== "string") return;
    let data: Uint8Array;
    try {
      data = base64ToBytes(msg.data);
    } catch {
      return;
    }
    this.events.emit("message", { channel: msg.channel, data });
  }

  /** @internal the client closed */
  _destroy(): void {
    this.events.removeAll();
  }

  /** Runs `run` after the channel's previous open/close settled. */
  private inOrder<T>(channel: string, run: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(channel) ?? Promise.resolve();
    const result = previous.then(run);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(channel, settled);
    void settled.then(() => {
      if (this.chains.get(channel) === settled) this.chains.delete(channel);
    });
    return result;
  }

  /** The name of the current transport when it is an HTTP fallback (SSE, long-poll). */
  private onHttpTransport(): string | undefined {
    const name = this.internals.transportName();
    return name !== undefined && HTTP_TRANSPORTS.has(name) ? name : undefined;
  }

  private live(frame: Frame): Promise<Record<string, unknown>> {
    if (!this.internals.isConnected()) {
      this.internals.ensureConnected();
      return Promise.reject(new HeraldError(ClientErrorCode.Disconnected, "not connected", true));
    }
    const fallback = this.onHttpTransport();
    if (fallback !== undefined) {
      // Refused here, never sent: the server would answer 104 for a frame that cannot work over HTTP.
      const message =
        `collaborative documents need the WebSocket transport: the connection is on "${fallback}" ` +
        `(WebSockets blocked on the way to Herald?), so ${String(frame.channel)} cannot be opened or edited; ` +
        `the client tries the WebSocket again (retryBestTransportAfterMs) and the document can be opened then`;
      return Promise.reject(new HeraldError(ClientErrorCode.DocumentsNeedWebSocket, message, true));
    }
    return this.internals.session(frame);
  }
}
