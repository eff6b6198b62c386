"use client";

import { useHerald, useReadReceipts } from "@herald/react";
import Link from "next/link";
import { useCallback, useMemo, useSyncExternalStore } from "react";
import { OnlineUsers } from "@/components/online-users";
import { useMe } from "@/components/providers";
import { ROOMS, roomChannel } from "@/lib/rooms";

/** Per room, as the server saw it when rendering: newest offset and my read mark. */
export type RoomCounts = Record<string, { top: number; mark: number }>;

/** The channel's newest offset seen by this client (subscribed by the read-receipts hook), or `fallback`. */
function useTopOffset(channel: string, fallback: number): number {
  const herald = useHerald();
  const ch = herald.channel(channel);
  const subscribe = useCallback(
    (cb: () => void) => {
      const offs = [ch.on("publication", cb), ch.on("subscribed", cb)];
      return () => offs.forEach((off) => off());
    },
    [ch],
  );
  return useSyncExternalStore(
    subscribe,
    () => Math.max(ch.position?.offset ?? 0, fallback),
    () => fallback,
  );
}

function RoomLink({ id, title, current, counts }: { id: string; title: string; current: boolean; counts?: { top: number; mark: number } }) {
  const me = useMe();
  const channel = roomChannel(id);
  const initial = useMemo(() => [{ user: me.id, offset: counts?.mark ?? 0 }], [me.id, counts?.mark]);
  const { positions } = useReadReceipts(channel, { initial });
  const mark = positions.find((p) => p.user === me.id)?.offset ?? 0;
  const top = useTopOffset(channel, counts?.top ?? 0);
  const unread = current ? 0 : Math.max(0, top - mark);
  return (
    <Link href={`/chat/${id}`} className={current ? "active" : undefined} data-testid={`room-${id}`}>
      <span># {title}</span>
      {unread > 0 ? (
        <span className="badge" data-testid={`unread-${id}`} aria-label={`${unread} unread`}>
          {unread > 99 ? "99+" : unread}
        </span>
      ) : null}
    </Link>
  );
}

export function RoomSidebar({ current, counts }: { current: string; counts: RoomCounts }) {
  return (
    <aside className="sidebar">
      <h3>Rooms</h3>
      <ul className="rooms">
        {ROOMS.map((r) => (
          <li key={r.id}>
            <RoomLink id={r.id} title={r.title} current={r.id === current} counts={counts[r.id]} />
          </li>
        ))}
      </ul>
      <OnlineUsers />
    </aside>
  );
}
