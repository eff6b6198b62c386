"use client";

import { usePresence } from "@herald/react";
import { useEffect } from "react";
import { ONLINE_CHANNEL } from "@/lib/rooms";
import { useActivity } from "@/lib/use-activity";

/**
 * Keeps me in online:everyone while the app is open, with my status:
 * "active", or "idle" after `idleMs` without input or while the tab is hidden.
 */
export function PresenceReporter({ idleMs }: { idleMs: number }) {
  const { setState } = usePresence(ONLINE_CHANNEL);
  const activity = useActivity(idleMs);
  useEffect(() => {
    setState({ status: activity }).catch(() => {});
  }, [activity, setState]);
  return null;
}
