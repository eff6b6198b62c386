"use client";

import { useEffect, useState } from "react";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import { userColor } from "@/lib/user-color";
import type { SessionUser } from "@/lib/types";

/** The awareness state every editor of a document sets (`user` is what y-codemirror.next draws carets with). */
export interface DocUser {
  id: string;
  name: string;
  color: string;
  colorLight: string;
}

export type DocConnection = "connecting" | "connected" | "disconnected";

export interface YjsRoom {
  doc: Y.Doc;
  provider: WebsocketProvider;
}

interface Token {
  token: string;
  /** Unix seconds. */
  expiresAt: number;
}

async function fetchToken(): Promise<Token> {
  const r = await fetch("/api/herald-token", { cache: "no-store" });
  if (!r.ok) throw new Error(`token route answered ${r.status}`);
  return (await r.json()) as Token;
}

/**
 * One Yjs document synced through Herald's y-websocket door
 * (`{heraldUrl}/yjs/{channel}`), with the stock `WebsocketProvider` and the
 * user's token (the token route grants subscribe + publish on `doc:*`).
 *
 * Everything lives in one effect: nothing runs during server rendering, and
 * Strict Mode's mount → unmount → mount destroys the first document and
 * provider (or, usually, cancels it while the token is being fetched) before
 * the second is made, so one socket per document. The token is renewed
 * before it expires: Herald closes the socket at `exp`, and the provider
 * reconnects with whatever `provider.params` then holds.
 */
export function useYjsRoom(heraldUrl: string, channel: string, me: SessionUser): {
  room: YjsRoom | null;
  connection: DocConnection;
  synced: boolean;
  error: string | null;
} {
  const [room, setRoom] = useState<YjsRoom | null>(null);
  const [connection, setConnection] = useState<DocConnection>("connecting");
  const [synced, setSynced] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    let provider: WebsocketProvider | null = null;
    let doc: Y.Doc | null = null;
    let renew: ReturnType<typeof setTimeout> | undefined;

    const scheduleRenewal = (expiresAt: number) => {
      const inMs = Math.max(5_000, (expiresAt * 1000 - Date.now()) / 2);
      renew = setTimeout(() => void refresh(), inMs);
    };
    const refresh = async () => {
      try {
        const t = await fetchToken();
        if (stopped || !provider) return;
        provider.params = { token: t.token };
        scheduleRenewal(t.expiresAt);
      } catch {
        if (!stopped) renew = setTimeout(() => void refresh(), 5_000);
      }
    };

    const open = async () => {
      let t: Token;
      try {
        t = await fetchToken();
      } catch (e) {
        if (stopped) return;
        setError(e instanceof Error ? e.message : String(e));
        renew = setTimeout(() => void open(), 3_000);
        return;
      }
      if (stopped) return;
      setError(null);
      doc = new Y.Doc();
      const wsUrl = `${heraldUrl.replace(/\/$/, "").replace(/^http/, "ws")}/yjs`;
      provider = new WebsocketProvider(wsUrl, channel, doc, { params: { token: t.token } });
      const user: DocUser = { id: me.id, name: me.name, ...userColor(me.id) };
      provider.awareness.setLocalStateField("user", user);
      provider.on("status", (e) => setConnection(e.status));
      provider.on("sync", (s) => setSynced(s));
      scheduleRenewal(t.expiresAt);
      setRoom({ doc, provider });
    };
    void open();

    return () => {
      stopped = true;
      if (renew) clearTimeout(renew);
      provider?.destroy();
      doc?.destroy();
      setRoom(null);
      setConnection("connecting");
      setSynced(false);
    };
  }, [heraldUrl, channel, me.id, me.name]);

  return { room, connection, synced, error };
}
