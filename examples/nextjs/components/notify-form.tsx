"use client";

import { useActionState, useEffect, useRef } from "react";
import { notify, type NotifyState } from "@/app/actions";
import type { SessionUser } from "@/lib/types";

export function NotifyForm({ users }: { users: SessionUser[] }) {
  const [state, action, pending] = useActionState<NotifyState, FormData>(notify, {});
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    if (state.ok) form.current?.reset();
  }, [state]);
  return (
    <form ref={form} action={action} className="stack notify-form">
      <label htmlFor="to">To</label>
      <input id="to" name="to" list="known-users" required placeholder="a name, or * for everyone" autoComplete="off" />
      <datalist id="known-users">
        <option value="*">Everyone who signed in</option>
        {users.map((u) => (
          <option key={u.id} value={u.name} />
        ))}
      </datalist>
      <label htmlFor="title">Title</label>
      <input id="title" name="title" required maxLength={120} placeholder="Standup in 5 minutes" />
      <label htmlFor="body">Message</label>
      <textarea id="body" name="body" rows={3} maxLength={1000} placeholder="Optional details" />
      <button type="submit" disabled={pending}>
        {pending ? "Sending…" : "Send notification"}
      </button>
      {state.ok ? (
        <p role="status" className="ok">
          {state.ok}
        </p>
      ) : null}
      {state.error ? (
        <p role="alert" className="error">
          {state.error}
        </p>
      ) : null}
    </form>
  );
}
