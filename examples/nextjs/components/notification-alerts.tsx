"use client";

import { useHerald } from "@herald/react";
import { useEffect } from "react";
import { showDesktopNotification } from "@/components/desktop-notifications";
import { showToast } from "@/components/toasts";

/** A toast (and a desktop notification, when allowed) for each new notification pushed by Herald. */
export function NotificationAlerts() {
  const herald = useHerald();
  useEffect(
    () =>
      herald.inbox.on("notification", ({ notification }) => {
        const title = notification.title ?? "Notification";
        showToast(title, notification.body ?? "");
        if (document.visibilityState === "hidden" || !document.hasFocus()) showDesktopNotification(title, notification.body ?? "");
      }),
    [herald],
  );
  return null;
}
