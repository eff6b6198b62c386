// @vitest-environment jsdom
import { StrictMode } from "react";
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import {
  HeraldProvider,
  useNotifications,
  usePresence,
  useReadReceipts,
  useTyping,
  type UseNotificationsResult,
  type UsePresenceResult,
  type UseReadReceiptsResult,
  type UseTypingResult,
} from "@herald/react";
import { tokenFor, tokenSuite } from "../../test-support/tokens.js";

const suite = tokenSuite();
const other = (user: string) => suite.as(user);
const uniq = (ns: string) => `${ns}:h-${Math.random().toString(36).slice(2, 10)}`;

afterEach(() => {
  cleanup();
});

/** Renders `children` inside a provider signed in as `user`, under Strict Mode. */
function renderAs(user: string, children: React.ReactNode) {
  return render(
    <StrictMode>
      <HeraldProvider url={suite.server.wsUrl} token={tokenFor(user)} options={{ WebSocket: NodeWebSocket }}>
        {children}
      </HeraldProvider>
    </StrictMode>,
  );
}

describe("@herald/react chat hooks against a running herald", () => {
  it("useTyping lists the others typing and notifyTyping reaches them", async () => {
    const room = uniq("room");
    let hook: UseTypingResult | undefined;
    function Typing() {
      hook = useTyping(room);
      return <p data-testid="typing">{hook.typing.join(",")}</p>;
    }
    renderAs("ada", <Typing />);
    const bob = other("bob");
    const atBob: string[] = [];
    bob.channel(room).on("typing", (e) => atBob.push(`${e.user}:${e.typing}`));
    await bob.channel(room).subscribe();
    await waitFor(() => expect(bob.channel(room).status).toBe("subscribed"));
    // Wait for the hook's subscription (bob's typing is only delivered to subscribers).
    await waitFor(async () => expect((await suite.admin.channel(room)).subscribers).toBe(2), { timeout: 5000 });

    expect(await bob.channel(room).notifyTyping()).toBe(true);
    await waitFor(() => expect(screen.getByTestId("typing").textContent).toBe("bob"), { timeout: 5000 });
    // The server ends it after its timeout (600 ms in this config).
    await waitFor(() => expect(screen.getByTestId("typing").textContent).toBe(""), { timeout: 5000 });

    act(() => {
      hook?.notifyTyping();
      hook?.notifyTyping(); // throttled: one frame
    });
    await waitFor(() => expect(atBob).toEqual(["ada:true", "ada:false"]), { timeout: 5000 });
  });

  it("useReadReceipts shows initial positions, live reads and marks your own", async () => {
    const room = uniq("room");
    for (let i = 1; i <= 4; i++) await suite.admin.publish(room, { n: i });
    const bob = other("bob");
    await bob.channel(room).subscribe();
    await bob.channel(room).markRead(1);
    const initial = (await suite.admin.readPositions(room)).members;
    let hook: UseReadReceiptsResult | undefined;
    function Seen() {
      hook = useReadReceipts(room, { initial });
      return (
        <p data-testid="seen">
          {hook.positions.map((p) => `${p.user}@${p.offset}`).join(",")}|{hook.seenBy(3).join(",")}
        </p>
      );
    }
    renderAs("ada", <Seen />);
    expect(screen.getByTestId("seen").textContent).toBe("bob@1|");
    await waitFor(async () => expect((await suite.admin.channel(room)).subscribers).toBe(2), { timeout: 5000 });
    await bob.channel(room).markRead(3);
    await waitFor(() => expect(screen.getByTestId("seen").textContent).toBe("bob@3|bob"), { timeout: 5000 });
    await act(async () => {
      await hook?.markRead(4);
    });
    await waitFor(() => expect(screen.getByTestId("seen").textContent).toBe("ada@4,bob@3|ada,bob"), { timeout: 5000 });
    expect((await suite.admin.readPositions(room)).members.find((m) => m.user === "ada")?.offset).toBe(4);
    // Past the top: refused with the server's code, nothing stored.
    await expect(hook?.markRead(99)).rejects.toMatchObject({ code: 107 });
  });

  it("useReadReceipts loads the current positions itself when given none", async () => {
    const room = uniq("room");
    for (let i = 1; i <= 3; i++) await suite.admin.publish(room, { n: i });
    const bob = other("bob");
    await bob.channel(room).subscribe();
    await bob.channel(room).markRead(2);
    function Seen() {
      const { positions, seenBy } = useReadReceipts(room);
      return (
        <p data-testid="seen">
          {positions.map((p) => `${p.user}@${p.offset}`).join(",")}|{seenBy(2).join(",")}
        </p>
      );
    }
    renderAs("ada", <Seen />);
    await waitFor(() => expect(screen.getByTestId("seen").textContent).toBe("bob@2|bob"), { timeout: 5000 });
  });

  it("usePresence exposes setState and shows the others' states", async () => {
    const room = uniq("room");
    let hook: UsePresenceResult<{ name: string }> | undefined;
    function Who() {
      hook = usePresence<{ name: string }>(room);
      return (
        <p data-testid="who">
          {hook.members
            .map((m) => `${m.user}:${JSON.stringify(m.state ?? null)}`)
            .sort()
            .join(",")}
        </p>
      );
    }
    renderAs("ada", <Who />);
    await waitFor(() => expect(screen.getByTestId("who").textContent).toBe("ada:null"), { timeout: 5000 });
    const bob = other("bob");
    await bob.channel(room).subscribe();
    await bob.channel(room).setPresenceState({ status: "away" });
    await waitFor(() => expect(screen.getByTestId("who").textContent).toBe('ada:null,bob:{"status":"away"}'), {
      timeout: 5000,
    });
    await act(async () => {
      await hook?.setState({ status: "idle" });
    });
    await waitFor(() => expect(screen.getByTestId("who").textContent).toBe('ada:{"status":"idle"},bob:{"status":"away"}'), {
      timeout: 5000,
    });
    expect((await bob.channel(room).presence()).find((m) => m.user === "ada")?.state).toEqual({ status: "idle" });
  });

  it("useNotifications loads, receives pushes, marks read, deletes, pages, and follows other tabs", async () => {
    const user = `n-${Math.random().toString(36).slice(2, 8)}`;
    for (let i = 1; i <= 3; i++) await suite.admin.notify(user, { title: `old-${i}` });
    let hook: UseNotificationsResult | undefined;
    function Inbox() {
      hook = useNotifications({ pageSize: 2 });
      return (
        <p data-testid="inbox">
          {hook.unread}|{hook.items.map((n) => `${n.title}${n.read ? "" : "*"}`).join(",")}|{String(hook.hasMore)}
        </p>
      );
    }
    renderAs(user, <Inbox />);
    const text = () => screen.getByTestId("inbox").textContent;
    await waitFor(() => expect(text()).toBe("3|old-3*,old-2*|true"), { timeout: 5000 });
    await act(async () => {
      await hook?.loadMore();
    });
    expect(text()).toBe("3|old-3*,old-2*,old-1*|false");

    await suite.admin.notify(user, { title: "live", kind: "mention" });
    await waitFor(() => expect(text()).toBe("4|live*,old-3*,old-2*,old-1*|false"), { timeout: 5000 });

    const ids = hook!.items.map((n) => n.id);
    await act(async () => {
      await hook?.markRead(ids[0]);
    });
    await waitFor(() => expect(text()).toBe("3|live,old-3*,old-2*,old-1*|false"));
    await act(async () => {
      await hook?.remove(ids[1]);
    });
    await waitFor(() => expect(text()).toBe("2|live,old-2*,old-1*|false"));

    // Another tab of the same user reads everything: this one follows.
    const tab2 = other(user);
    await tab2.inbox.markAllRead();
    await waitFor(() => expect(text()).toBe("0|live,old-2,old-1|false"), { timeout: 5000 });

    // A refused change shows the server's error and keeps the server's truth.
    await act(async () => {
      await expect(hook?.markRead(987654321)).rejects.toMatchObject({ code: 118 });
    });
    expect(hook?.error?.code).toBe(118);
  });
});
