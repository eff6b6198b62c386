"use client";

import { EditorView, placeholder } from "@codemirror/view";
import { usePresence } from "@herald/react";
import { basicSetup } from "codemirror";
import { useEffect, useRef } from "react";
import { yCollab } from "y-codemirror.next";
import * as Y from "yjs";
import { DocPeople } from "@/components/doc-people";
import { useMe } from "@/components/providers";
import { DOCUMENT_TEXT } from "@/lib/documents";
import { useYjsRoom, type DocConnection, type YjsRoom } from "@/lib/use-yjs-room";

const STATUS_TEXT: Record<DocConnection, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  disconnected: "Offline: your edits are kept and merge when you are back",
};

/** CodeMirror 6 bound to the document's `Y.Text` (shared text, remote carets and selections, shared undo). */
function useCodeMirror(room: YjsRoom | null) {
  const parent = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = parent.current;
    if (!room || !el) return;
    const ytext = room.doc.getText(DOCUMENT_TEXT);
    const undoManager = new Y.UndoManager(ytext);
    const view = new EditorView({
      parent: el,
      doc: ytext.toString(),
      extensions: [
        basicSetup,
        EditorView.lineWrapping,
        placeholder("Start typing. Everyone with this document open sees it at once."),
        yCollab(ytext, room.provider.awareness, { undoManager }),
      ],
    });
    return () => {
      view.destroy();
      undoManager.destroy();
    };
  }, [room]);
  return parent;
}

export function CollabEditor({ channel, title }: { channel: string; title: string }) {
  const me = useMe();
  const { room, connection, synced, error } = useYjsRoom(channel, me);
  // The document's channel too, with presence (namespace `doc`): Herald itself
  // knows who has the document open (GET /api/presence/doc:notes). Opening a
  // document on the connection does not join its presence; subscribing does.
  const { members } = usePresence(channel);
  const parent = useCodeMirror(room);
  const status = connection === "connected" && !synced ? "Syncing…" : STATUS_TEXT[connection];
  return (
    <div className="doc">
      <div className="doc-main">
        <header className="doc-header">
          <h2>{title}</h2>
          <span
            className={`pill${connection === "connected" && synced ? " pill-live" : ""}`}
            data-testid="doc-status"
            data-state={connection === "connected" && synced ? "synced" : connection}
          >
            {error ? `Cannot connect: ${error}` : status}
          </span>
        </header>
        <div className="doc-editor" ref={parent} data-testid="doc-editor" />
      </div>
      <aside className="doc-aside">
        <DocPeople provider={room?.provider ?? null} myId={me.id} />
        <p className="fine" data-testid="doc-viewers">
          {members.length > 0 ? `${members.length} connected to Herald on ${channel}` : ""}
        </p>
      </aside>
    </div>
  );
}
