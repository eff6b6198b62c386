import {
  ClientErrorCode,
  Emitter,
  ErrorCode,
  type DocumentMessageEvent,
  type Herald,
  type HeraldError,
  type Listener,
} from "@herald/client";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from "y-protocols/awareness";
import { messageYjsSyncStep2, readSyncMessage, writeSyncStep1, writeUpdate } from "y-protocols/sync";
import type * as Y from "yjs";

/** y-websocket message types. */
const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
const MESSAGE_QUERY_AWARENESS = 3;

/** `connecting`: the document is being opened; `connected`: open and live; `disconnected`: the client's connection is down. */
export type HeraldYjsProviderStatus = "connecting" | "connected" | "disconnected";

export interface HeraldYjsProviderOptions {
  /** The awareness instance to sync (default: a new `Awareness(doc)`, destroyed with the provider). */
  awareness?: Awareness;
}

export interface HeraldYjsProviderEvents {
  /** `true` after the server's first sync step 2 on a connection, `false` when the connection drops. */
  synced: boolean;
  status: HeraldYjsProviderStatus;
  /** A request for the document failed (not for a dropped connection: the next sync covers it). */
  error: HeraldError;
}

interface AwarenessChanges {
  added: number[];
  updated: number[];
  removed: number[];
}

/** The code of a `HeraldError` (checked by shape: the ESM and CJS builds have distinct classes). */
function errorCode(e: unknown): number | undefined {
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === "number" ? code : undefined;
}

/**
 * Syncs a `Y.Doc` and its awareness over a `Herald` client's own connection
 * (no second socket): the y-websocket messages travel in the native
 * protocol's `doc_open`/`doc`/`doc_close` frames. The same document is
 * served to the stock `y-websocket` provider at `/yjs/{channel}`, so both
 * kinds of editors can work on it together.
 *
 * ```ts
 * const provider = new HeraldYjsProvider(herald, "doc:spec-42", doc);
 * provider.awareness.setLocalStateField("user", { name: "Ada" });
 * provider.on("synced", (synced) => console.log("synced", synced));
 * ```
 *
 * The document is opened whenever the client is connected, and again after
 * every reconnect; sync step 1/2 then exchanges what either side missed,
 * including edits made offline.
 *
 * Not to be confused with `@herald/react`'s `HeraldProvider`, the React
 * context component that holds the client.
 */
export class HeraldYjsProvider {
  readonly herald: Herald;
  readonly channel: string;
  readonly doc: Y.Doc;
  readonly awareness: Awareness;

  private readonly ownsAwareness: boolean;
  private readonly events = new Emitter<HeraldYjsProviderEvents>("herald/yjs");
  private readonly unhook: (() => void)[] = [];
  private _synced = false;
  private _status: HeraldYjsProviderStatus = "disconnected";
  private _writable = false;
  /** Whether the document is open on the current connection. */
  private open = false;
  /** Bumped on every (re)open and disconnect, so a stale `doc_open` reply is ignored. */
  private generation = 0;
  private destroyed = false;

  constructor(herald: Herald, channel: string, doc: Y.Doc, options: HeraldYjsProviderOptions = {}) {
    this.herald = herald;
    this.channel = channel;
    this.doc = doc;
    this.ownsAwareness = options.awareness === undefined;
    this.awareness = options.awareness ?? new Awareness(doc);

    doc.on("update", this.onDocUpdate);
    this.unhook.push(() => doc.off("update", this.onDocUpdate));
    this.awareness.on("update", this.onAwarenessUpdate);
    this.unhook.push(() => this.awareness.off("update", this.onAwarenessUpdate));
    this.unhook.push(herald.documents.on("message", this.onMessage));
    this.unhook.push(herald.on("connected", () => void this.openDocument()));
    this.unhook.push(
      herald.on("state", (state) => {
        if (state !== "connected") this.onConnectionLost();
      }),
    );

    if (herald.state === "connected") void this.openDocument();
    else if (herald.state === "idle") herald.connect();
  }

  /** Whether the document has been synced with the server on the current connection. */
  get synced(): boolean {
    return this._synced;
  }

  get status(): HeraldYjsProviderStatus {
    return this._status;
  }

  /** Whether this connection may change the document (the token's publish right). Read-only edits stay local. */
  get writable(): boolean {
    return this._writable;
  }

  on<K extends keyof HeraldYjsProviderEvents>(event: K, listener: Listener<HeraldYjsProviderEvents[K]>): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof HeraldYjsProviderEvents>(event: K, listener: Listener<HeraldYjsProviderEvents[K]>): void {
    this.events.off(event, listener);
  }

  /**
   * Removes this client's awareness state, closes the document on the
   * connection and unhooks every listener. The `Y.Doc` and the Herald
   * client stay usable.
   */
  destroy(): void {
    if (this.destroyed) return;
    // Open, or being opened (the close then follows the open: herald.documents keeps their order).
    const wasOpen = this.open || this._status === "connecting";
    // Sent (through onAwarenessUpdate) before the document closes.
    removeAwarenessStates(this.awareness, [this.doc.clientID], "destroy");
    this.destroyed = true;
    this.open = false;
    this.generation++;
    if (wasOpen) this.herald.documents.close(this.channel).catch(() => undefined);
    for (const off of this.unhook.splice(0)) off();
    if (this.ownsAwareness) this.awareness.destroy();
    this.events.removeAll();
  }

  private setStatus(status: HeraldYjsProviderStatus): void {
    if (this._status === status) return;
    this._status = status;
    this.events.emit("status", status);
  }

  private setSynced(synced: boolean): void {
    if (this._synced === synced) return;
    this._synced = synced;
    this.events.emit("synced", synced);
  }

  private async openDocument(): Promise<void> {
    if (this.destroyed) return;
    const gen = ++this.generation;
    this.open = false;
    this.setStatus("connecting");
    let writable: boolean;
    try {
      ({ writable } = await this.herald.documents.open(this.channel));
    } catch (e) {
      if (gen !== this.generation) return;
      this.setStatus("disconnected");
      // A dropped connection reopens on the next `connected` event.
      const code = errorCode(e);
      if (code !== undefined && code !== ClientErrorCode.Disconnected) this.events.emit("error", e as HeraldError);
      return;
    }
    if (gen !== this.generation) return;
    this.open = true;
    this._writable = writable;
    this.setStatus("connected");
    // Our state vector: the server answers with what we lack (step 2).
    const sync = encoding.createEncoder();
    encoding.writeVarUint(sync, MESSAGE_SYNC);
    writeSyncStep1(sync, this.doc);
    this.send(encoding.toUint8Array(sync));
    // Announced (by onAwarenessUpdate) with a clock past the one the server used to remove our state when
    // the previous connection ended (ours + 1): the others ignore a state whose clock they already know.
    const local = this.awareness.getLocalState();
    const meta = this.awareness.meta.get(this.doc.clientID);
    if (local !== null && meta !== undefined) {
      this.awareness.meta.set(this.doc.clientID, { ...meta, clock: meta.clock + 1 });
      this.awareness.setLocalState(local);
    }
  }

  private onConnectionLost(): void {
    this.generation++;
    this.open = false;
    this.setSynced(false);
    this.setStatus("disconnected");
    // Like y-websocket: everyone but us is gone until the next sync.
    const others = [...this.awareness.getStates().keys()].filter((id) => id !== this.doc.clientID);
    if (others.length > 0) removeAwarenessStates(this.awareness, others, this);
    // Forget their clocks too, so the states the server sends on reopen apply at once
    // (y-websocket keeps them and shows the others again only at their next 15 s renewal).
    for (const id of others) this.awareness.meta.delete(id);
  }

  private readonly onMessage = (event: DocumentMessageEvent): void => {
    if (event.channel !== this.channel || this.destroyed) return;
    try {
      const decoder = decoding.createDecoder(event.data);
      const reply = encoding.createEncoder();
      switch (decoding.readVarUint(decoder)) {
        case MESSAGE_SYNC: {
          encoding.writeVarUint(reply, MESSAGE_SYNC);
          const kind = readSyncMessage(decoder, reply, this.doc, this);
          if (kind === messageYjsSyncStep2) this.setSynced(true);
          break;
        }
        case MESSAGE_AWARENESS:
          applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(decoder), this);
          break;
        case MESSAGE_QUERY_AWARENESS:
          encoding.writeVarUint(reply, MESSAGE_AWARENESS);
          encoding.writeVarUint8Array(
            reply,
            encodeAwarenessUpdate(this.awareness, [...this.awareness.getStates().keys()]),
          );
          break;
        default:
          return;
      }
      if (encoding.length(reply) > 1) this.send(encoding.toUint8Array(reply));
    } catch (err) {
      console.error(`[herald/yjs] unreadable document message on ${this.channel}`, err);
    }
  };

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown): void => {
    // Updates from the server are not echoed; offline edits go in the next sync step 2.
    if (origin === this || !this.open || !this._writable) return;
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, MESSAGE_SYNC);
    writeUpdate(enc, update);
    this.send(encoding.toUint8Array(enc));
  };

  private readonly onAwarenessUpdate = (changes: AwarenessChanges, origin: unknown): void => {
    // Only our own state: the others' belong to their connections.
    if (origin === this || !this.open) return;
    const own = this.doc.clientID;
    if ([...changes.added, ...changes.updated, ...changes.removed].includes(own)) this.sendAwareness([own]);
  };

  private sendAwareness(clients: number[]): void {
    const enc = encoding.createEncoder();
    encoding.writeVarUint(enc, MESSAGE_AWARENESS);
    encoding.writeVarUint8Array(enc, encodeAwarenessUpdate(this.awareness, clients));
    this.send(encoding.toUint8Array(enc));
  }

  private send(message: Uint8Array): void {
    const gen = this.generation;
    this.herald.documents.send(this.channel, message).catch((e: unknown) => {
      const code = errorCode(e);
      if (code === undefined || gen !== this.generation) return;
      if (code === ClientErrorCode.Disconnected || code === ClientErrorCode.Closed) return;
      // A read-only connection's sync step 2 is refused: expected, its edits stay local.
      if (code === ErrorCode.PermissionDenied && !this._writable) return;
      this.events.emit("error", e as HeraldError);
    });
  }
}

/**
 * @deprecated Renamed `HeraldYjsProvider` (so it is not confused with
 * `@herald/react`'s `HeraldProvider`); this alias goes in the next release.
 */
export const HeraldProvider = HeraldYjsProvider;
/** @deprecated Renamed `HeraldYjsProvider`; this alias goes in the next release. */
export type HeraldProvider = HeraldYjsProvider;
/** @deprecated Renamed `HeraldYjsProviderStatus`. */
export type HeraldProviderStatus = HeraldYjsProviderStatus;
/** @deprecated Renamed `HeraldYjsProviderOptions`. */
export type HeraldProviderOptions = HeraldYjsProviderOptions;
/** @deprecated Renamed `HeraldYjsProviderEvents`. */
export type HeraldProviderEvents = HeraldYjsProviderEvents;
