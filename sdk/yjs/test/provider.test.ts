import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { Herald, type HeraldOptions } from "@herald/client";
import type { Capability } from "@herald/next";
import { HeraldYjsProvider } from "@herald/yjs";
import { until, type HeraldProcess } from "../../test-support/herald.js";
import { startProxy, type TestProxy } from "../../test-support/proxy.js";
import { startTokenHerald, tokenFor, TOKEN_CONFIG } from "../../test-support/tokens.js";

/** Documents live in `doc:`, where clients may publish (= edit). */
const DOC_CONFIG = `${TOKEN_CONFIG}
[namespaces.doc]
allow_client_publish = true
`;
const READ_ONLY: Capability[] = [{ channels: ["doc:*"], allow: ["subscribe"] }];

let server: HeraldProcess;
const cleanups: (() => void)[] = [];
const uniq = () => `doc:y-${Math.random().toString(36).slice(2, 10)}`;

beforeAll(async () => {
  server = await startTokenHerald({ bin: inject("heraldBin"), config: DOC_CONFIG });
});
afterAll(async () => {
  await server?.stop("SIGTERM");
});
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function client(user: string, opts: Partial<HeraldOptions> = {}): Herald {
  const c = new Herald({
    url: server.wsUrl,
    token: tokenFor(user),
    WebSocket: NodeWebSocket,
    transports: ["websocket"],
    ...opts,
  });
  cleanups.push(() => c.close());
  return c;
}

function provider(herald: Herald, channel: string, doc = new Y.Doc()): HeraldYjsProvider {
  const p = new HeraldYjsProvider(herald, channel, doc);
  cleanups.push(() => p.destroy());
  return p;
}

/** lib0's varUint (length prefix of a y-websocket payload). */
function varUint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push(0x80 | (n & 0x7f));
    n >>>= 7;
  }
  out.push(n);
  return out;
}

const text = (p: { doc: Y.Doc }) => p.doc.getText("body").toString();

describe("@herald/yjs HeraldYjsProvider", () => {
  it("syncs two providers that type at the same position at once to the same text", async () => {
    const channel = uniq();
    const a = provider(client("ada"), channel);
    const b = provider(client("bob"), channel);
    await until(() => a.synced && b.synced, 10_000, "both synced");
    expect(a.writable).toBe(true);

    a.doc.getText("body").insert(0, "hello");
    await until(() => text(b) === "hello", 10_000, "first edit at bob");
    // Both type at the same position in the same tick: neither has seen the other's edit.
    a.doc.getText("body").insert(5, " from ada");
    b.doc.getText("body").insert(5, " from bob");
    await until(() => text(a) === text(b) && text(a).length === "hello from ada from bob".length, 10_000, "converged");
    expect(text(a)).toContain(" from ada");
    expect(text(a)).toContain(" from bob");
    expect(text(a).startsWith("hello")).toBe(true);
  });

  it("edits the same document as a stock y-websocket provider on /yjs", async () => {
    const channel = uniq();
    const p = provider(client("ada"), channel);
    const wsDoc = new Y.Doc();
    const ws = new WebsocketProvider(`ws://127.0.0.1:${server.port}/yjs`, channel, wsDoc, {
      params: { token: tokenFor("bob") },
      WebSocketPolyfill: NodeWebSocket as unknown as typeof WebSocket,
      disableBc: true,
    });
    cleanups.push(() => ws.destroy());
    await until(() => p.synced && ws.synced, 10_000, "both synced");

    p.doc.getText("body").insert(0, "native");
    await until(() => wsDoc.getText("body").toString() === "native", 10_000, "native edit at y-websocket");
    wsDoc.getText("body").insert(6, " + y-websocket");
    await until(() => text(p) === "native + y-websocket", 10_000, "y-websocket edit at native");
    expect(wsDoc.getText("body").toString()).toBe(text(p));
  });

  it("reopens on the same client right after a destroy (React Strict Mode's double mount)", async () => {
    const channel = uniq();
    const herald = client("ada");
    const writer = provider(client("bob"), channel);
    await until(() => writer.synced, 10_000, "writer synced");
    writer.doc.getText("body").insert(0, "kept");
    herald.connect();
    await until(() => herald.state === "connected", 10_000, "client connected");
    // Destroyed while its doc_open is in flight: the close follows it, and the next open follows the close.
    new HeraldYjsProvider(herald, channel, new Y.Doc()).destroy();
    const second = provider(herald, channel);
    const errors: unknown[] = [];
    second.on("error", (e) => errors.push(e));
    await until(() => second.synced && text(second) === "kept", 10_000, "second provider synced");
    expect(errors).toEqual([]);
  });

  it("shows awareness states to the other provider and removes them on destroy()", async () => {
    const channel = uniq();
    const a = new HeraldYjsProvider(client("ada"), channel, new Y.Doc());
    const b = provider(client("bob"), channel);
    await until(() => a.synced && b.synced, 10_000, "both synced");

    a.awareness.setLocalStateField("user", { name: "Ada" });
    const adaId = a.doc.clientID;
    const adaAtBob = () => b.awareness.getStates().get(adaId) as { user?: { name: string } } | undefined;
    await until(() => adaAtBob()?.user?.name === "Ada", 10_000, "ada's state at bob");
    expect(adaAtBob()).toEqual({ user: { name: "Ada" } });

    a.destroy();
    await until(() => !b.awareness.getStates().has(adaId), 10_000, "ada's state gone at bob");
  });

  it("opens read-only without the publish right, and the read-only edit never reaches others", async () => {
    const channel = uniq();
    const writer = provider(client("ada"), channel);
    const readerClient = client("rita", { token: tokenFor("rita", READ_ONLY) });
    const reader = provider(readerClient, channel);
    await until(() => writer.synced && reader.synced, 10_000, "both synced");
    expect(writer.writable).toBe(true);
    expect(reader.writable).toBe(false);

    // The provider keeps a read-only edit local; sent anyway, the server refuses it.
    let update: Uint8Array | undefined;
    reader.doc.once("update", (u: Uint8Array) => (update = u));
    reader.doc.getText("body").insert(0, "vandalism ");
    expect(update).toBeDefined();
    const message = new Uint8Array([0, 2, ...varUint(update!.length), ...update!]); // sync (0), update (2), bytes
    await expect(readerClient.documents.send(channel, message)).rejects.toMatchObject({ code: 103 });
    writer.doc.getText("body").insert(0, "truth");
    // The writer's later edit reaches the reader: anything the reader sent would have arrived before it.
    await until(() => text(reader).includes("truth"), 10_000, "writer's edit at the reader");
    // A fresh provider loads the server's copy: only the writer's edit is there.
    const late = provider(client("late"), channel);
    await until(() => late.synced && text(late) === "truth", 10_000, "a late joiner sees the stored text");
    expect(text(writer)).toBe("truth");
  });

  it("sends an edit made while the connection was down after the reconnect", async () => {
    const channel = uniq();
    const proxy: TestProxy = await startProxy(server.port, { blockUpgrades: false });
    cleanups.push(() => void proxy.close());
    const flaky = client("ada", { url: proxy.wsUrl, reconnect: { minDelayMs: 50, maxDelayMs: 200 } });
    const a = provider(flaky, channel);
    const b = provider(client("bob"), channel);
    await until(() => a.synced && b.synced, 10_000, "both synced");
    b.awareness.setLocalStateField("user", { name: "Bob" });
    a.awareness.setLocalStateField("user", { name: "Ada" });
    await until(() => a.awareness.getStates().has(b.doc.clientID), 10_000, "bob's state at ada");
    await until(() => b.awareness.getStates().has(a.doc.clientID), 10_000, "ada's state at bob");

    proxy.refuseAll = true;
    proxy.dropAll();
    await until(() => a.status === "disconnected", 10_000, "ada disconnected");
    expect(a.synced).toBe(false);
    // Like y-websocket: the others' awareness states are dropped while disconnected.
    expect(a.awareness.getStates().has(b.doc.clientID)).toBe(false);
    // The server removed the dropped connection's awareness state for everyone.
    await until(() => !b.awareness.getStates().has(a.doc.clientID), 10_000, "ada's state gone at bob");
    a.doc.getText("body").insert(0, "offline edit");
    b.doc.getText("body").insert(0, "online edit ");

    proxy.refuseAll = false;
    await until(() => a.synced, 15_000, "ada synced again");
    await until(() => text(a) === text(b) && text(b).includes("offline edit"), 10_000, "both edits on both sides");
    expect(text(a)).toContain("online edit ");
    await until(() => a.awareness.getStates().has(b.doc.clientID), 10_000, "bob's state back at ada");
    await until(() => b.awareness.getStates().has(a.doc.clientID), 10_000, "ada's state back at bob");
  });
});
