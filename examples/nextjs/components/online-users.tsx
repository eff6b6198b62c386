"use client";

import { useConnectionState, usePresence } from "@herald/react";
import { useMe } from "@/components/providers";
import { ONLINE_CHANNEL } from "@/lib/rooms";
import type { UserInfo } from "@/lib/types";

function statusOf(state: unknown): "active" | "idle" {
  return typeof state === "object" && state !== null && (state as { status?: unknown }).status === "idle" ? "idle" : "active";
}

/** Everyone with the app open, from the presence of online:everyone, with their status. */
export function OnlineUsers() {
  const me = useMe();
  const { members } = usePresence<UserInfo>(ONLINE_CHANNEL);
  // While reconnecting the list is the last one known: say so.
  const stale = useConnectionState() !== "connected";
  const sorted = [...members].sort((a, b) => (a.info?.name ?? "").localeCompare(b.info?.name ?? ""));
  return (
    <section className={`online${stale ? " stale" : ""}`} aria-label="Online" title={stale ? "Not connected: last known list" : undefined}>
      <h3>Online — {members.length}</h3>
      <ul data-testid="online-users">
        {sorted.map((m) => {
          const status = statusOf(m.state);
          return (
            <li key={m.user ?? m.client} data-user={m.user} data-status={status}>
              <span className={`dot ${status}`} aria-hidden="true" />
              <span className="online-name">{m.info?.name ?? m.user ?? "anonymous"}</span>
              {m.user === me.id ? <span className="muted">(you)</span> : null}
              <span className="status-label">{status}</span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
