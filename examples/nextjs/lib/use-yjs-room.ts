"use client";

import { useHerald } from "@herald/react";
import { HeraldYjsProvider } from "@herald/yjs";
import { useEffect, useState } from "react";
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
  provider: HeraldYjsProvider;
}

/**
 * One Yjs document synced with `@herald/yjs`'s `HeraldYjsProvider` over the
 * app's one Herald connection (the client of `<HeraldProvider>`): no second
 * socket, and the client's reconnection, token refresh (the token route
 * grants subscribe + publish on `doc:*`) and offline handling. The document
 * is reopened after every reconnect; edits made offline merge then.
 *
 * Everything lives in one effect: nothing runs during server rendering, and
 * Strict Mode's mount → unmount → mount destroys the first document and
 * provider (closing the document on the connection) before the second opens.
 */
export function useYjsRoom(channel: string, me: SessionUser): {
  room: YjsRoom | null;
  connection: DocConnection;
  synced: boolean;
  error: string | null;
} {
  const herald = useHerald();
  const [room, setRoom] = useState<YjsRoom | null>(null);
  const [connection, setConnection] = useState<DocConnection>("connecting");
  const [synced, setSynced] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const doc = new Y.Doc();
    const provider = new HeraldYjsProvider(herald, channel, doc);
    const user: DocUser = { id: me.id, name: me.name, ...userColor(me.id) };
    provider.awareness.setLocalStateField("user", user);
    const off = [
      provider.on("status", (s) => {
        setConnection(s);
        if (s === "connected") setError(null);
      }),
      provider.on("synced", (s) => setSynced(s)),
      // A refused document request (e.g. no subscribe right): shown, not thrown.
      provider.on("error", (e) => setError(e.message)),
    ];
    setConnection(provider.status);
    setSynced(provider.synced);
    setRoom({ doc, provider });
    return () => {
      for (const f of off) f();
      provider.destroy();
      doc.destroy();
      setRoom(null);
      setConnection("connecting");
      setSynced(false);
    };
  }, [herald, channel, me.id, me.name]);

  return { room, connection, synced, error };
}
