"use client";

import { HeraldProvider } from "@herald/react";
import { createContext, useContext, type ReactNode } from "react";
import type { SessionUser } from "@/lib/types";

const MeContext = createContext<SessionUser | null>(null);

/** The signed-in user (from the server session). */
export function useMe(): SessionUser {
  const me = useContext(MeContext);
  if (!me) throw new Error("useMe outside <Providers>");
  return me;
}

/** Fetches a fresh token from the Route Handler; the client calls it before every (re)connect. */
async function getToken(): Promise<string> {
  const r = await fetch("/api/herald-token", { cache: "no-store" });
  if (!r.ok) throw new Error(`token route answered ${r.status}`);
  const j = (await r.json()) as { token: string };
  return j.token;
}

// Messages sent while disconnected wait in the client's queue for up to 10 minutes.
const OPTIONS = { clientName: "herald-nextjs-example", queue: { timeoutMs: 10 * 60_000 } };

export function Providers({ url, user, children }: { url: string; user: SessionUser; children: ReactNode }) {
  return (
    <MeContext.Provider value={user}>
      <HeraldProvider url={url} getToken={getToken} options={OPTIONS}>
        {children}
      </HeraldProvider>
    </MeContext.Provider>
  );
}
