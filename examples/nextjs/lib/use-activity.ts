import { useEffect, useState } from "react";

export type Activity = "active" | "idle";

const INPUT_EVENTS = ["pointermove", "pointerdown", "keydown", "wheel", "touchstart", "focus"] as const;

/**
 * "idle" when the tab is hidden or there was no input for `idleMs`;
 * "active" again on the next input. "active" on the server and at hydration.
 */
export function useActivity(idleMs: number): Activity {
  const [activity, setActivity] = useState<Activity>("active");
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const idle = () => setActivity("idle");
    const arm = () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = setTimeout(idle, idleMs);
    };
    const onInput = () => {
      if (document.visibilityState === "hidden") return;
      setActivity("active");
      arm();
    };
    const onVisibility = () => {
      if (document.visibilityState === "hidden") {
        if (timer !== undefined) clearTimeout(timer);
        idle();
      } else onInput();
    };
    for (const e of INPUT_EVENTS) window.addEventListener(e, onInput, { passive: true });
    document.addEventListener("visibilitychange", onVisibility);
    arm();
    return () => {
      if (timer !== undefined) clearTimeout(timer);
      for (const e of INPUT_EVENTS) window.removeEventListener(e, onInput);
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [idleMs]);
  return activity;
}
