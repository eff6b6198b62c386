import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { Herald, type Member, type NotificationEvent, type ReadPosition, type TypingEvent } from "@herald/client";
import { Herald as HeraldServerClient } from "@herald/next";
import { until, type HeraldServer } from "../../test-support/herald.js";
import { startTokenHerald, TEST_API_KEY, tokenFor } from "../../test-support/tokens.js";

let server: HeraldServer;
let admin: HeraldServerClient;
const clients: Herald[] = [];
function as(user: string, opts: Partial<ConstructorParameters<typeof Herald>[0]> = {}): Herald {
  const c = new Herald({ url: server.wsUrl, token: tokenFor(user), ...opts });
  clients.push(c);
  return c;
}
const uniq = (ns: string) => `${ns}:c-${Math.random().toString(36).slice(2, 10)}`;

beforeAll(async () => {
  server = await startTokenHerald({ bin: inject("heraldBin") });
  admin = new HeraldServerClient({ url: server.httpUrl, apiKey: TEST_API_KEY });
});
afterAll(async () => {
  await server.stop("SIGTERM");
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

describe("typing, read receipts, presence state, notifications (@herald/client)", () => {
  it("pushes typing to the others, never to the typist, and ends it by timeout and by publish", async () => {
    const room = uniq("room");
    const ada = as("ada");
    const bob = as("bob");
    const seenByAda: TypingEvent[] = [];
    const seenByBob: TypingEvent[] = [];
    ada.channel(room).on("typing", (e) => seenByAda.push(e));
    bob.channel(room).on("typing", (e) => seenByBob.push(e));
    await ada.channel(room).subscribe();
    await bob.channel(room).subscribe();

    expect(await ada.channel(room).notifyTyping()).toBe(true);
    await until(() => seenByBob.length === 1, 5000, "typing:true at bob");
    expect(seenByBob[0]).toEqual({ channel: room, user: "ada", typing: true });
    // The server's timeout (600 ms here) ends it.
    await until(() => seenByBob.length === 2, 5000, "typing:false at bob");
    expect(seenByBob[1]).toEqual({ channel: room, user: "ada", typing: false });

    // A publish ends it at once.
    await ada.channel(room).notifyTyping();
    await until(() => seenByBob.length === 3, 5000, "typing again");
    await ada.channel(room).publish({ text: "done" });
    await until(() => seenByBob.length === 4, 5000, "typing:false after publish");
    expect(seenByBob[3].typing).toBe(false);
    expect(seenByAda).toEqual([]);
  });

  it("does not send typing on a channel it is not subscribed to", async () => {
    const ada = as("ada");
    expect(await ada.channel(uniq("room")).notifyTyping()).toBe(false);
  });

  it("marks read, pushes `read` to subscribers, only moves forward, refuses past the top", async () => {
    const room = uniq("room");
    const ada = as("ada");
    const bob = as("bob");
    const atBob: ReadPosition[] = [];
    bob.channel(room).on("read", (p) => atBob.push(p));
    await bob.channel(room).subscribe();
    await ada.channel(room).subscribe();
    for (let i = 1; i <= 3; i++) await ada.publish(room, { n: i });

    expect(await ada.channel(room).markRead(2)).toEqual({ channel: room, offset: 2 });
    await until(() => atBob.length === 1, 5000, "read push");
    expect(atBob[0]).toEqual({ user: "ada", offset: 2 });
    // Older: a no-op answering the current mark.
    expect((await ada.channel(room).markRead(1)).offset).toBe(2);
    const err = await ada
      .channel(room)
      .markRead(99)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 107, temporary: false });

    expect(await ada.unread()).toContainEqual({ channel: room, unread: 1, offset: 2 });
    const positions = await admin.readPositions(room);
    expect(positions.members.map((m) => [m.user, m.offset])).toEqual([["ada", 2]]);
    expect(positions.offset).toBe(3);
  });

  it("sets presence state, pushes presence_update, and sends it again after a reconnect", async () => {
    const room = uniq("room");
    // Ada reconnects ~800 ms after a drop: after the 200 ms presence grace, so she really leaves.
    const ada = as("ada", { reconnect: { minDelayMs: 800, random: () => 0.99 } });
    const bob = as("bob");
    const updates: Member[] = [];
    const left: Member[] = [];
    bob.channel(room).on("presence_update", (m) => updates.push(m));
    bob.channel(room).on("leave", (m) => left.push(m));
    await bob.channel(room).subscribe();
    await ada.channel(room).subscribe();
    await ada.channel(room).setPresenceState({ status: "idle" });
    await until(() => updates.length === 1, 5000, "presence_update");
    expect(updates[0]).toMatchObject({ user: "ada", state: { status: "idle" } });
    const members = await bob.channel(room).presence();
    expect(members.find((m) => m.user === "ada")?.state).toEqual({ status: "idle" });

    // Ada's connection is cut by the app's back end; after the grace she is gone and her state dropped,
    // then the client reconnects, resubscribes and sets the state again by itself.
    expect(await admin.disconnectUser("ada")).toBe(1);
    await until(() => left.some((m) => m.user === "ada"), 5000, "ada left");
    expect((await bob.channel(room).presence()).some((m) => m.user === "ada")).toBe(false);
    await until(
      async () => (await bob.channel(room).presence()).some((m) => m.user === "ada" && (m.connections ?? 0) > 0 && m.state !== undefined) &&
        ada.state === "connected",
      10_000,
      "ada back with her state",
    );
    expect((await bob.channel(room).presence()).find((m) => m.user === "ada")?.state).toEqual({ status: "idle" });
  });

  it("lists, pushes, marks read and deletes notifications, with the unread count on every connection", async () => {
    const user = `u-${Math.random().toString(36).slice(2, 8)}`;
    const tab1 = as(user);
    const tab2 = as(user);
    const counts1: number[] = [];
    const counts2: number[] = [];
    const pushed: NotificationEvent[] = [];
    tab1.inbox.on("unread", (n) => counts1.push(n));
    tab2.inbox.on("unread", (n) => counts2.push(n));
    tab1.inbox.on("notification", (e) => pushed.push(e));
    tab1.connect();
    tab2.connect();
    await until(() => counts1.length === 1 && counts2.length === 1, 5000, "unread after connect");
    expect(counts1).toEqual([0]);

    const [first] = await admin.notify(user, { kind: "mention", title: "Ada mentioned you", body: "in #general", data: { room: "room:1" } });
    await admin.notify(user, { title: "second" });
    await until(() => pushed.length === 2, 5000, "notification pushes");
    expect(pushed[0].notification).toMatchObject({ id: first.id, kind: "mention", title: "Ada mentioned you", body: "in #general", data: { room: "room:1" }, read: false });
    expect(pushed[1].unread).toBe(2);
    await until(() => tab2.inbox.unread === 2, 5000, "tab2 unread 2");

    const page = await tab1.inbox.list({ limit: 10 });
    expect(page.notifications.map((n) => n.title)).toEqual(["second", "Ada mentioned you"]);
    expect(page.unread).toBe(2);
    expect((await tab1.inbox.list({ limit: 10, before: page.notifications[0].id })).notifications.map((n) => n.id)).toEqual([first.id]);

    expect(await tab1.inbox.markRead(first.id)).toBe(1);
    await until(() => counts2[counts2.length - 1] === 1, 5000, "tab2 sees the read");
    expect(await tab2.inbox.remove(page.notifications[0].id)).toBe(0);
    await until(() => counts1[counts1.length - 1] === 0, 5000, "tab1 sees the delete");
    expect((await tab1.inbox.list()).notifications.map((n) => ({ id: n.id, read: n.read }))).toEqual([{ id: first.id, read: true }]);
    expect(await tab1.inbox.markAllRead()).toBe(0);
    const missing = await tab1.inbox.markRead(987654321).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 118 });
  });
});
