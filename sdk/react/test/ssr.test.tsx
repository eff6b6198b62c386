// @vitest-environment node
import { renderToString } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { WebSocketLike } from "@herald/client";
import { HeraldProvider, useChannel, useConnectionState, usePresence } from "@herald/react";

let constructed = 0;
class ForbiddenWebSocket implements WebSocketLike {
  readyState = 0;
  constructor() {
    constructed++;
    throw new Error("no WebSocket during server rendering");
  }
  send(): void {}
  close(): void {}
}

function Page() {
  const state = useConnectionState();
  const { messages, status } = useChannel<{ text: string }>("chat:ssr", { history: 20 });
  const { members } = usePresence("room:ssr");
  return (
<p>{`${state}|${status}|${messages.length}|${members.length}`}</p>
  );
}

describe("server rendering", () => {
  it("renders stable empty values and touches no window or socket", () => {
    expect(typeof (globalThis as { window?: unknown }).window).toBe("undefined");
    const html = renderToString(
      <HeraldProvider url="ws://127.0.0.1:1/ws" options={{ WebSocket: ForbiddenWebSocket }}>
        <Page />
      </HeraldProvider>,
    );
    expect(html).toContain("idle|unsubscribed|0|0");
    expect(constructed).toBe(0);
  });
});
