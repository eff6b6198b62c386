// Compiled by client/test/types.test.ts with `tsc --noEmit --strict` against the BUILT
// .d.ts files (dist/), as an app would see them: no `any` may leak into user code.
import { expectTypeOf } from "vitest";
import {
  createOptimisticList,
  decodeHistory,
  decodeMembers,
  Emitter,
  fallbackTransport,
  Herald,
  pollTransport,
  sseTransport,
  webSocketTransport,
  HeraldError,
  type ConnectionState,
  type HistoryResult,
  type Member,
  type Notification,
  type NotificationEvent,
  type OptimisticItem,
  type ReadPosition,
  type TypingEvent,
  type UnreadChannel,
  type Publication,
  type PublishResult,
  type SubscribedEvent,
} from "@herald/client";
import {
  useChannel,
  useConnectionState,
  useNotifications,
  usePresence,
  useReadReceipts,
  useTyping,
  type UseChannelResult,
} from "@herald/react";
import * as Y from "yjs";
import { HeraldProvider as DeprecatedYjsProvider, HeraldYjsProvider, type HeraldYjsProviderStatus } from "@herald/yjs";
import type { DocumentMessageEvent } from "@herald/client";
import { createTokenHandler, Herald as DeprecatedHeraldServer, HeraldServer, type TokenClaims } from "@herald/next";

interface ChatMessage {
  text: string;
  author: string;
}

const client = new Herald({ url: "ws://127.0.0.1:7700/ws", getToken: async () => "t" });
const room = client.channel<ChatMessage>("chat:room-7");

room.on("publication", (msg) => {
  expectTypeOf(msg).toEqualTypeOf<Publication<ChatMessage>>();
  expectTypeOf(msg.data).toEqualTypeOf<ChatMessage>();
  expectTypeOf(msg.data.text).toBeString();
  expectTypeOf(msg.offset).toBeNumber();
  expectTypeOf(msg.idempotencyKey).toEqualTypeOf<string | undefined>();
});
room.on("subscribed", (e) => {
  expectTypeOf(e).toEqualTypeOf<SubscribedEvent>();
  expectTypeOf(e.recovered).toEqualTypeOf<boolean | null>();
});
room.on("error", (e) => expectTypeOf(e).toEqualTypeOf<HeraldError>());
client.on("state", (s) => expectTypeOf(s).toEqualTypeOf<ConnectionState>());

expectTypeOf(room.publish).parameter(0).toEqualTypeOf<ChatMessage>();
expectTypeOf(room.publish({ text: "hi", author: "a" })).resolves.toEqualTypeOf<PublishResult>();
expectTypeOf(room.history()).resolves.toHaveProperty("publications").toEqualTypeOf<Publication<ChatMessage>[]>();
expectTypeOf(room.presence<{ name: string }>()).resolves.toEqualTypeOf<Member<{ name: string }>[]>();
expectTypeOf(client.publish("chat:x", { a: 1 })).resolves.not.toBeAny();

room.on("typing", (e) => expectTypeOf(e).toEqualTypeOf<TypingEvent>());
room.on("read", (e) => expectTypeOf(e).toEqualTypeOf<ReadPosition>());
room.on("presence_update", (m) => expectTypeOf(m.state).toEqualTypeOf<unknown>());
expectTypeOf(room.notifyTyping()).resolves.toBeBoolean();
expectTypeOf(room.markRead(3)).resolves.toEqualTypeOf<{ channel: string; offset: number }>();
expectTypeOf(client.unread()).resolves.toEqualTypeOf<UnreadChannel[]>();
expectTypeOf(client.inbox.list<{ room: string }>()).resolves.toHaveProperty("notifications").toEqualTypeOf<
  Notification<{ room: string }>[]
>();
client.inbox.on("notification", (e) => expectTypeOf(e).toEqualTypeOf<NotificationEvent>());
client.inbox.on("unread", (n) => expectTypeOf(n).toBeNumber());
expectTypeOf(client.inbox.markRead(1)).resolves.toBeNumber();

expectTypeOf(client.transportName).toEqualTypeOf<string | undefined>();
const composed = new Herald({
  url: "ws://127.0.0.1:7700/ws",
  transport: fallbackTransport([
    { name: "websocket", factory: webSocketTransport() },
    { name: "sse", factory: sseTransport({ openTimeoutMs: 5000 }) },
    { name: "poll", factory: pollTransport() },
  ]),
});
void composed;
void new Herald({ url: "ws://x/ws", transports: ["websocket", "sse", "poll"], retryBestTransportAfterMs: 60_000 });
// @ts-expect-error: only the three transports exist
void new Herald({ url: "ws://x/ws", transports: ["carrier-pigeon"] });
client.on("tokenRefreshed", (v) => expectTypeOf(v).toBeUndefined());

// The shared wire decoders and emitter (used by @herald/next and @herald/yjs).
expectTypeOf(decodeHistory<ChatMessage>("chat:x", {})).toEqualTypeOf<HistoryResult<ChatMessage>>();
expectTypeOf(decodeMembers<{ name: string }>({})).toEqualTypeOf<Member<{ name: string }>[]>();
const emitter = new Emitter<{ ping: number }>();
emitter.on("ping", (n) => expectTypeOf(n).toBeNumber());
// @ts-expect-error: only declared events
emitter.emit("pong", 1);

const err = new HeraldError(103, "no", false);
expectTypeOf(err.code).toBeNumber();
expectTypeOf(err.temporary).toBeBoolean();

const list = createOptimisticList(room);
expectTypeOf(list.getSnapshot()).toEqualTypeOf<readonly OptimisticItem<ChatMessage>[]>();
expectTypeOf(list.getSnapshot()[0].data).toEqualTypeOf<ChatMessage>();

// @ts-expect-error: publishing the wrong shape to a typed channel is a compile error
void room.publish({ text: 1 });

// React hooks (type-level only; not rendered here).
type ChannelHook = ReturnType<typeof useChannel<ChatMessage>>;
expectTypeOf<ChannelHook>().toEqualTypeOf<UseChannelResult<ChatMessage>>();
expectTypeOf<ChannelHook["messages"][number]["data"]>().toEqualTypeOf<ChatMessage>();
expectTypeOf<ChannelHook["publish"]>().parameter(0).toEqualTypeOf<ChatMessage>();
expectTypeOf<ReturnType<typeof useConnectionState>>().toEqualTypeOf<ConnectionState>();
expectTypeOf<ReturnType<typeof usePresence<{ name: string }>>["members"][number]["info"]>().toEqualTypeOf<
  { name: string } | undefined
>();
expectTypeOf<ReturnType<typeof usePresence>["setState"]>().returns.resolves.toBeVoid();
expectTypeOf<ReturnType<typeof useTyping>["typing"]>().toEqualTypeOf<readonly string[]>();
expectTypeOf<ReturnType<typeof useTyping>["notifyTyping"]>().returns.toBeVoid();
expectTypeOf<ReturnType<typeof useReadReceipts>["positions"]>().toEqualTypeOf<readonly ReadPosition[]>();
expectTypeOf<ReturnType<typeof useReadReceipts>["markRead"]>().parameter(0).toBeNumber();
expectTypeOf<ReturnType<typeof useNotifications>["items"]>().toEqualTypeOf<readonly Notification[]>();
expectTypeOf<ReturnType<typeof useNotifications>["unread"]>().toBeNumber();
expectTypeOf<ReturnType<typeof useNotifications>["loadMore"]>().returns.resolves.toBeVoid();

// Next.js server side.
const handler = createTokenHandler({
  secret: "s",
  claims: async (req): Promise<TokenClaims> => {
    expectTypeOf(req).toEqualTypeOf<Request>();
    return { sub: "u", capabilities: [{ channels: ["chat:*"], allow: ["subscribe", "publish"] }] };
  },
});
expectTypeOf(handler).returns.resolves.toEqualTypeOf<Response>();
const server = new HeraldServer({ url: "http://127.0.0.1:7700", apiKey: "k" });
expectTypeOf(server.history<ChatMessage>("chat:x")).resolves.toHaveProperty("publications").items.toHaveProperty("data").toEqualTypeOf<ChatMessage>();
expectTypeOf(server.publish("chat:x", { a: 1 })).resolves.toHaveProperty("offset").toBeNumber();
expectTypeOf(server.readPositions("room:1")).resolves.toHaveProperty("members").items.toHaveProperty("offset").toBeNumber();
expectTypeOf(server.notify("u42", { title: "hi", data: { room: "room:1" } })).resolves.items.toHaveProperty("id").toBeNumber();
// The old name still compiles (deprecated alias, one release).
expectTypeOf(new DeprecatedHeraldServer({ url: "http://127.0.0.1:7700" })).toEqualTypeOf<HeraldServer>();
// @ts-expect-error: capabilities only take the four rights
createTokenHandler({ secret: "s", claims: () => ({ sub: "u", capabilities: [{ channels: ["*"], allow: ["admin"] }] }) });

// Yjs documents over the client's connection.
const ydoc = new Y.Doc();
const yProvider = new HeraldYjsProvider(client, "doc:x", ydoc);
expectTypeOf(yProvider.synced).toBeBoolean();
expectTypeOf(yProvider.writable).toBeBoolean();
expectTypeOf(yProvider.status).toEqualTypeOf<HeraldYjsProviderStatus>();
yProvider.on("synced", (s) => expectTypeOf(s).toBeBoolean());
yProvider.on("error", (e) => expectTypeOf(e).toEqualTypeOf<HeraldError>());
expectTypeOf(client.documents.open("doc:x")).resolves.toEqualTypeOf<{ writable: boolean }>();
expectTypeOf(client.documents.send("doc:x", new Uint8Array())).resolves.toBeVoid();
client.documents.on("message", (m) => expectTypeOf(m).toEqualTypeOf<DocumentMessageEvent>());
// The old name still compiles (deprecated alias, one release).
expectTypeOf(new DeprecatedYjsProvider(client, "doc:y", new Y.Doc())).toEqualTypeOf<HeraldYjsProvider>();
