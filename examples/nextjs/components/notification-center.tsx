"use client";

import { useNotifications } from "@herald/react";
import { DesktopNotificationsPrompt } from "@/components/desktop-notifications";
import { LocalTime } from "@/components/local-time";

/** The signed-in user's inbox: newest first, mark one or all read, load older ones. */
export function NotificationCenter() {
  const { items, unread, hasMore, loading, error, markRead, markAllRead, loadMore } = useNotifications({ pageSize: 20 });
  return (
    <section className="card center" aria-label="Notification center" data-testid="notification-center">
      <div className="center-header">
        <h2>Inbox</h2>
        <span className="muted" data-testid="center-unread">
          {unread} unread
        </span>
        <button type="button" onClick={() => void markAllRead().catch(() => {})} disabled={unread === 0}>
          Mark all read
        </button>
      </div>
      <DesktopNotificationsPrompt />
      {error ? <p className="error">{error.message}</p> : null}
      {items.length === 0 ? <p className="muted">{loading ? "Loading…" : "Nothing yet."}</p> : null}
      <ul>
        {items.map((n) => (
          <li key={n.id} className={`notification ${n.read ? "read" : "unread"}`} data-testid="notification" data-read={n.read}>
            <div className="notification-body">
              <div className="notification-title">{n.title ?? n.kind}</div>
              {n.body ? <p>{n.body}</p> : null}
              <p className="fine">
                {n.kind} · <LocalTime ms={n.createdAt} />
              </p>
            </div>
            {n.read ? null : (
              <button type="button" className="link" onClick={() => void markRead(n.id).catch(() => {})}>
                Mark read
              </button>
            )}
          </li>
        ))}
      </ul>
      {hasMore ? (
        <button type="button" className="link" onClick={() => void loadMore()} disabled={loading}>
          Older notifications
        </button>
      ) : null}
    </section>
  );
}
