"use client";

import { fetchKeyProvider, type ChannelEncryptionOptions, type DecryptErrorEvent } from "@herald/client";
import { useChannel, useHerald } from "@herald/react";
import { useEffect, useState, type FormEvent } from "react";
import { NOTES_CHANNEL, type PrivateNote } from "@/lib/notes";
import { useMe } from "./providers";

// One options object for the page's lifetime: keys are fetched once from the
// Route Handler and again only for an unknown key id (after a rotation).
const ENCRYPTION: ChannelEncryptionOptions = {
  keyProvider: fetchKeyProvider(`/api/channel-keys?channel=${encodeURIComponent(NOTES_CHANNEL)}`, { cache: "no-store" }),
};

export function PrivateNotes() {
  const me = useMe();
  const herald = useHerald();
  const { messages, publish } = useChannel<PrivateNote>(NOTES_CHANNEL, { history: 50, encryption: ENCRYPTION });
  const [text, setText] = useState("");
  const [unreadable, setUnreadable] = useState(0);

  useEffect(
    () => herald.channel(NOTES_CHANNEL).on("decrypt_error", (_e: DecryptErrorEvent) => setUnreadable((n) => n + 1)),
    [herald],
  );

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const t = text.trim();
    if (!t) return;
    setText("");
    publish({ text: t, user: me.id, name: me.name }).catch(() => {});
  };

  return (
    <div className="stack">
      <ul className="stack" data-testid="notes">
        {messages.map((m) => (
          <li key={m.key} data-testid="note" data-status={m.status}>
            <strong>{m.data.name}</strong>: <span className="note-text">{m.data.text}</span>
            {m.status === "pending" ? <span className="muted"> (encrypting and sending…)</span> : null}
          </li>
        ))}
      </ul>
      {unreadable > 0 ? (
        <p role="alert" className="error" data-testid="unreadable">
          {unreadable} note(s) could not be decrypted (unknown key or tampered).
        </p>
      ) : null}
      <form onSubmit={submit} className="stack">
        <label htmlFor="note">New note</label>
        <textarea id="note" data-testid="note-input" rows={3} maxLength={2000} value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit" data-testid="note-submit">
          Add encrypted note
        </button>
      </form>
    </div>
  );
}
