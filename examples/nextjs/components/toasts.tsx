"use client";

import { useSyncExternalStore } from "react";

export interface Toast {
  id: number;
  title: string;
  body: string;
}

let toasts: readonly Toast[] = [];
let nextId = 1;
const listeners = new Set<() => void>();
const EMPTY: readonly Toast[] = [];

function set(next: readonly Toast[]): void {
  toasts = next;
  for (const l of [...listeners]) l();
}

export function dismissToast(id: number): void {
  set(toasts.filter((t) => t.id !== id));
}

/** Shows a toast for 8 seconds (or until dismissed). */
export function showToast(title: string, body: string): void {
  const id = nextId++;
  set([...toasts, { id, title, body }].slice(-4));
  setTimeout(() => dismissToast(id), 8000);
}

export function Toasts() {
  const list = useSyncExternalStore(
    (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    () => toasts,
    () => EMPTY,
  );
  return (
    <div className="toasts" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} className="toast" role="status" data-testid="toast">
          <button type="button" aria-label="Dismiss" onClick={() => dismissToast(t.id)}>
            ×
          </button>
          <strong>{t.title}</strong>
          {t.body ? <p>{t.body}</p> : null}
        </div>
      ))}
    </div>
  );
}
