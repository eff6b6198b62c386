// @vitest-environment jsdom
import { Activity, StrictMode } from "react";
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, inject, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import { Herald } from "@herald/client";
import { HeraldProvider, useChannel, useConnectionState, usePresence } from "@herald/react";
import { api } from "../../test-support/herald.js";

const wsUrl = inject("heraldWsUrl");
const httpUrl = inject("heraldHttpUrl");
const uniq = (ns: string) => `${ns}:r-${Math.random().toString(36).slice(2, 10)}`;

let sockets = 0;
class CountingWebSocket extends NodeWebSocket {
  constructor(url: string) {
    super(url);
    sockets++;
  }
}

afterEach(() => {
  cleanup();
  sockets = 0;
});

interface Msg {
  text: string;
}

let publishFn: ((m: Msg) => Promise<unknown>) | undefined;

function Chat({ channel }: { channel: string }) {
  const state = useConnectionState();
  const { messages, publish, status } = useChannel<Msg>(channel, { history: 10 });
  publishFn = publish;
  return (
    <div>
      <p data-testid="state">{state}</p>
      <p data-testid="status">{status}</p>
      <ul data-testid="messages">
        {messages.map((m) => (
          <li key={m.key}>
            {m.data.text}/{m.status}
          </li>
        ))}
      </ul>
    </div>
  );
}

function Who({ channel }: { channel: string }) {
  const { members } = usePresence(channel);
  return <p data-testid="members">{members.length}</p>;
}

/** The channel's subscriber count (the API answers 0 for a channel nobody is in; an API error is thrown). */
async function subscribers(channel: string): Promise<number> {
  const r = await api<{ subscribers: number }>(httpUrl, `/api/channels/${encodeURIComponent(channel)}`);
  return r.subscribers;
}

describe("@herald/react", () => {
  it("Strict Mode double mount opens ONE socket and one subscription; unmount closes it", async () => {
    const channel = uniq("room");
    const { unmount } = render(
      <StrictMode>
        <HeraldProvider url={wsUrl} options={{ WebSocket: CountingWebSocket }}>
          <Chat channel={channel} />
          <Who channel={channel} />
        </HeraldProvider>
      </StrictMode>,
    );
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("subscribed"), { timeout: 5000 });
    expect(screen.getByTestId("state").textContent).toBe("connected");
    await waitFor(() => expect(screen.getByTestId("members").textContent).toBe("1"), { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    expect(sockets).toBe(1);
    expect(await subscribers(channel)).toBe(1);
    unmount();
    await waitFor(async () => expect(await subscribers(channel)).toBe(0), { timeout: 5000 });
    expect(sockets).toBe(1);
  });

  it("useChannel loads history, receives live messages and publishes optimistically", async () => {
    const channel = uniq("chat");
    await api(httpUrl, "/api/publish", { channel, data: { text: "old-1" } });
    await api(httpUrl, "/api/publish", { channel, data: { text: "old-2" } });
    render(
      <HeraldProvider url={wsUrl} options={{ WebSocket: CountingWebSocket }}>
        <Chat channel={channel} />
      </HeraldProvider>,
    );
    const list = () => [...screen.getByTestId("messages").querySelectorAll("li")].map((li) => li.textContent);
    await waitFor(() => expect(list()).toEqual(["old-1/confirmed", "old-2/confirmed"]), { timeout: 5000 });
    await api(httpUrl, "/api/publish", { channel, data: { text: "live" } });
    await waitFor(() => expect(list()).toEqual(["old-1/confirmed", "old-2/confirmed", "live/confirmed"]), { timeout: 5000 });
    let done: Promise<unknown> | undefined;
    act(() => {
      done = publishFn?.({ text: "mine" });
    });
    expect(list()[3]).toBe("mine/pending");
    await act(async () => {
      await done;
    });
    await waitFor(() => expect(list()).toEqual(["old-1/confirmed", "old-2/confirmed", "live/confirmed", "mine/confirmed"]));
  });

  it("usePresence follows joins and leaves", async () => {
    const channel = uniq("room");
    render(
      <HeraldProvider url={wsUrl} options={{ WebSocket: CountingWebSocket }}>
        <Who channel={channel} />
      </HeraldProvider>,
    );
    await waitFor(() => expect(screen.getByTestId("members").textContent).toBe("1"), { timeout: 5000 });
    const other = new Herald({ url: wsUrl, WebSocket: NodeWebSocket });
    await other.channel(channel).subscribe();
    await waitFor(() => expect(screen.getByTestId("members").textContent).toBe("2"), { timeout: 5000 });
    other.close();
    await waitFor(() => expect(screen.getByTestId("members").textContent).toBe("1"), { timeout: 5000 });
  });

  it("a provider hidden by <Activity> and shown again reconnects with a fresh client", async () => {
    const channel = uniq("chat");
    const tree = (mode: "visible" | "hidden") => (
      <Activity mode={mode}>
        <HeraldProvider url={wsUrl} options={{ WebSocket: CountingWebSocket }}>
          <Chat channel={channel} />
        </HeraldProvider>
      </Activity>
    );
    const { rerender } = render(tree("visible"));
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("subscribed"), { timeout: 5000 });
    rerender(tree("hidden"));
    await waitFor(async () => expect(await subscribers(channel)).toBe(0), { timeout: 5000 });
    rerender(tree("visible"));
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("subscribed"), { timeout: 5000 });
    expect(await subscribers(channel)).toBe(1);
    expect(sockets).toBe(2);
  });
});
