"use client";

import { useHydrated } from "@/lib/use-hydrated";

/** A time in the viewer's time zone; rendered after hydration only, so server and browser HTML agree. */
export function LocalTime({ ms, seconds = false }: { ms: number; seconds?: boolean }) {
  const hydrated = useHydrated();
  const iso = new Date(ms).toISOString();
  return (
    <time dateTime={iso}>
      {hydrated
        ? new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined })
        : ""}
    </time>
  );
}
