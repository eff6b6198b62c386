// @vitest-environment jsdom
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, inject, it } from "vitest";
import { WebSocket as NodeWebSocket } from "ws";
import { Herald, isEncryptedEnvelope, type ChannelEncryptionOptions } from "@herald/client";
import { HeraldProvider, useChannel } from "@herald/react";
import { api } from "../../test-support/herald.js";

interface Note {
  text: string;
}

const wsUrl = inject("heraldWsUrl");
const httpUrl = inject("heraldHttpUrl");
const ENCRYPTION: ChannelEncryptionOptions = {
  key: { kid: "k1", key: Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString("base64") },
};
let publishFn: ((n: Note) => Promise<unknown>) | undefined;

function Notes({ channel }: { channel: string }) {
  const { messages, publish } = useChannel<Note>(channel, { history: 10, encryption: ENCRYPTION });
  publishFn = publish;
  return (
    <ul data-testid="notes">
      {messages.map((m) => (
        <li key={m.key}>{`${m.data.text}/${m.status}`}</li>
      ))}
    </ul>
  );
}

afterEach(() => cleanup());

describe("@herald/react useChannel with encryption", () => {
  it("loads encrypted history decrypted, receives and publishes through the channel's key", async () => {
    const channel = `secret:r-${Math.random().toString(36).slice(2, 10)}`;
    const writer = new Herald({ url: wsUrl, WebSocket: NodeWebSocket });
    await writer.channel<Note>(channel, { encryption: ENCRYPTION }).publish({ text: "old" });
    render(
      <HeraldProvider url={wsUrl} options={{ WebSocket: NodeWebSocket }}>
        <Notes channel={channel} />
      </HeraldProvider>,
    );
    const list = () => [...screen.getByTestId("notes").querySelectorAll("li")].map((li) => li.textContent);
    await waitFor(() => expect(list()).toEqual(["old/confirmed"]), { timeout: 5000 });
    await writer.channel<Note>(channel).publish({ text: "live" });
    await waitFor(() => expect(list()).toEqual(["old/confirmed", "live/confirmed"]), { timeout: 5000 });
    await act(async () => {
      await publishFn?.({ text: "mine" });
    });
    await waitFor(() => expect(list()).toEqual(["old/confirmed", "live/confirmed", "mine/confirmed"]));
    const raw = await api<{ publications: { data: unknown }[] }>(httpUrl, `/api/history/${encodeURIComponent(channel)}`);
    expect(raw.publications.map((p) => isEncryptedEnvelope(p.data))).toEqual([true, true, true]);
    writer.close();
  });
});
