"use client";

import { useConnectionState, useHerald } from "@herald/react";
import { useSyncExternalStore } from "react";
import { outbox } from "@/lib/outbox";
import { useBrowserOnline } from "@/lib/use-browser-online";

/** Shows when the app is not live: reconnecting, offline, and how many messages wait to be sent. */
export function ConnectionBanner() {
  const state = useConnectionState();
  const herald = useHerald();
  const queued = useSyncExternalStore(outbox.subscribe, outbox.getSnapshot, outbox.getServerSnapshot);
  const browserOnline = useBrowserOnline();
  const waiting =
    queued > 0 ? ` ${queued} ${queued === 1 ? "message" : "messages"} queued — sent when the connection is back.` : "";

  let kind: "reconnecting" | "offline" | null = null;
  let text = "";
  if (!browserOnline) {
    kind = "offline";
    text = `You are offline.${waiting}`;
  } else if (state === "reconnecting") {
    kind = "reconnecting";
    text = `Reconnecting to Herald…${waiting}`;
  } else if (state === "offline") {
    kind = "offline";
    text = `Disconnected: Herald refused the connection.${waiting}`;
  }
  if (!kind) return <div className="banner-slot" aria-hidden="true" />;
  return (
    <div className={`banner banner-${kind}`} role="status" data-testid="connection-banner" data-state={kind}>
      <span>{text}</span>
      {state === "offline" ? (
        <button type="button" className="link" onClick={() => herald.connect()}>
          Retry
        </button>
      ) : null}
    </div>
  );
}
