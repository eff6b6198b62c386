"use client";

import Link from "next/link";
import { OnlineUsers } from "@/components/online-users";
import { ROOMS } from "@/lib/rooms";

export function RoomSidebar({ current }: { current: string }) {
  return (
    <aside className="sidebar">
      <h3>Rooms</h3>
      <ul className="rooms">
        {ROOMS.map((r) => (
          <li key={r.id}>
            <Link href={`/chat/${r.id}`} className={r.id === current ? "active" : undefined} data-testid={`room-${r.id}`}>
              <span># {r.title}</span>
            </Link>
          </li>
        ))}
      </ul>
      <OnlineUsers />
    </aside>
  );
}
