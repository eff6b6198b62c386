"use client";

import { useNotifications } from "@herald/react";
import Link from "next/link";

/** The bell in the top bar: unread notifications, kept in step across tabs by Herald. */
export function Bell() {
  const { unread } = useNotifications();
  return (
    <Link href="/notifications" className="bell" aria-label={`Notifications: ${unread} unread`} data-testid="bell">
      <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
        <path
          d="M12 3a6 6 0 0 0-6 6v3.6L4.3 15.4A1 1 0 0 0 5.2 17h13.6a1 1 0 0 0 .9-1.6L18 12.6V9a6 6 0 0 0-6-6Zm-2.5 15.5a2.5 2.5 0 0 0 5 0"
          fill="none"
          stroke="currentColor"
          strokeWidth="1.8"
          strokeLinejoin="round"
        />
      </svg>
      {unread > 0 ? (
        <span className="badge" data-testid="bell-count">
          {unread > 99 ? "99+" : unread}
        </span>
      ) : null}
    </Link>
  );
}
