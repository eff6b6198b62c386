"use client";

import { useCallback, useSyncExternalStore } from "react";

type Permission = NotificationPermission | "unsupported";

const listeners = new Set<() => void>();
function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}
function current(): Permission {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

/** The browser's notification permission, re-read after we ask. `"default"` during server rendering. */
export function useNotificationPermission(): [Permission, () => Promise<void>] {
  const permission = useSyncExternalStore(subscribe, current, () => "default" as Permission);
  const ask = useCallback(async () => {
    if (typeof Notification === "undefined") return;
    try {
      await Notification.requestPermission();
    } catch {
      /* old callback-style API or blocked: the permission says what happened */
    }
    for (const l of [...listeners]) l();
  }, []);
  return [permission, ask];
}

/** Shows a system notification when allowed; does nothing otherwise (the in-app toast is always shown). */
export function showDesktopNotification(title: string, body: string): void {
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  try {
    new Notification(title, { body, tag: `herald-${title}` });
  } catch {
    /* some browsers only allow it from a service worker */
  }
}

/** Offers desktop notifications behind the browser's permission prompt; a refusal is fine. */
export function DesktopNotificationsPrompt() {
  const [permission, ask] = useNotificationPermission();
  return (
    <div className="permission" data-testid="desktop-permission" data-permission={permission}>
      {permission === "default" ? (
        <>
          <span>Get a system notification too, even when this tab is in the background?</span>
          <button type="button" onClick={() => void ask()}>
            Enable desktop notifications
          </button>
        </>
      ) : permission === "granted" ? (
        <span className="ok">Desktop notifications are on.</span>
      ) : permission === "denied" ? (
        <span className="muted">
          Desktop notifications are blocked in this browser; you&apos;ll still see them here and as toasts. (Allow them in the
          site settings to change that.)
        </span>
      ) : (
        <span className="muted">This browser has no desktop notifications; you&apos;ll see them here and as toasts.</span>
      )}
    </div>
  );
}
