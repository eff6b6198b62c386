// Collaborative documents (`herald.documents`, the `doc_*` operations) travel
// only on a WebSocket. When the client falls back to SSE or long-polling
// (a proxy refusing WebSocket upgrades), opening a document fails with a
// typed error that says so, instead of an obscure server refusal; the client
// keeps working for channels, and once it is back on a WebSocket the
// document opens.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import * as Y from "yjs";
import { ClientErrorCode, Herald, HeraldError, type HeraldOptions } from "@herald/client";
import { HeraldYjsProvider } from "@herald/yjs";
import { startHerald, until, type HeraldProcess } from "../../test-support/herald.js";
import { startProxy, type TestProxy } from "../../test-support/proxy.js";

let server: HeraldProcess;
let proxy: TestProxy | undefined;
const clients: Herald[] = [];
const uniq = (ns: string) => `${ns}:d-${Math.random().toString(36).slice(2, 10)}`;

beforeAll(async () => {
  server = await startHerald({ bin: inject("heraldBin"), config: "[namespaces.doc]\n[namespaces.room]\n" });
});
afterAll(async () => {
  await server?.stop("SIGTERM");
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await proxy?.close();
  proxy = undefined;
});

function client(url: string, opts: Partial<HeraldOptions> = {}): Herald {
  const c = new Herald({ url, WebSocket: NodeWebSocket, reconnect: { minDelayMs: 50, maxDelayMs: 200 }, ...opts });
  clients.push(c);
  return c;
}

/** Connects `c` (a channel subscribe makes it connect) and returns the transport it ended on. */
async function connectedOn(c: Herald): Promise<string | undefined> {
  await c.channel(uniq("room")).subscribe();
  return c.transportName;
}

async function refusal(p: Promise<unknown>): Promise<HeraldError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(HeraldError);
  return e as HeraldError;
}

describe("documents on a fallback transport", () => {
  it("behind a proxy that refuses WebSockets (SSE): open and send fail with DocumentsNeedWebSocket, saying why", async () => {
    proxy = await startProxy(server.port, { blockUpgrades: true });
    const c = client(proxy.wsUrl);
    expect(await connectedOn(c)).toBe("sse");
    const doc = uniq("doc");

    const e = await refusal(c.documents.open(doc));
    expect(e.code).toBe(ClientErrorCode.DocumentsNeedWebSocket);
    expect(e.message).toMatch(/documents need the WebSocket transport/);
    expect(e.message).toContain('"sse"');
    expect(e.message).toContain(doc);
    // Temporary: the client goes back to a WebSocket when it can, and the document can be opened then.
    expect(e.temporary).toBe(true);
    expect((await refusal(c.documents.send(doc, new Uint8Array([0, 0])))).code).toBe(ClientErrorCode.DocumentsNeedWebSocket);
    // Nothing was sent to the server for it, and the connection is untouched.
    expect(proxy.seen.filter((p) => p === "/sse/request")).toEqual([]);
    expect(c.state).toBe("connected");
  });

  it("on long-polling too", async () => {
    const c = client(server.wsUrl, { transports: ["poll"] });
    expect(await connectedOn(c)).toBe("poll");
    const e = await refusal(c.documents.open(uniq("doc")));
    expect(e.code).toBe(ClientErrorCode.DocumentsNeedWebSocket);
    expect(e.message).toContain('"poll"');
  });

  it("HeraldYjsProvider reports it as an `error` event (not an exception), then syncs once the WebSocket is back", async () => {
    proxy = await startProxy(server.port, { blockUpgrades: true });
    const c = client(proxy.wsUrl, { retryBestTransportAfterMs: 1_000 });
    expect(await connectedOn(c)).toBe("sse");
    const doc = new Y.Doc();
    const provider = new HeraldYjsProvider(c, uniq("doc"), doc);
    const errors: HeraldError[] = [];
    provider.on("error", (e) => errors.push(e));
    await until(() => errors.length > 0, 5_000, "the provider's error event");
    expect(errors[0]!.code).toBe(ClientErrorCode.DocumentsNeedWebSocket);
    expect(provider.synced).toBe(false);
    expect(provider.status).toBe("disconnected");

    // The network lets WebSockets through again: the client moves back to one, and the document syncs.
    proxy.blockUpgrades = false;
    await until(() => c.transportName === "websocket" && provider.synced, 15_000, "back on a WebSocket and synced");
    doc.getText("t").insert(0, "hello");
    provider.destroy();
    doc.destroy();
  });
});
