import type { SessionUser } from "./types";

// What this server process remembers (since it started): who signed in, for
// the notification form, and how many notifications it sent, for the
// dashboard. On globalThis so that every route bundle shares one copy.
const g = globalThis as { __heraldExampleUsers?: Map<string, string>; __heraldExampleNotified?: number };
const users = (g.__heraldExampleUsers ??= new Map<string, string>());

export function rememberUser(u: SessionUser): void {
  users.set(u.id, u.name);
}

export function knownUsers(): SessionUser[] {
  return [...users].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name));
}

export function countNotificationsSent(n: number): void {
  g.__heraldExampleNotified = (g.__heraldExampleNotified ?? 0) + n;
}

export function notificationsSent(): number {
  return g.__heraldExampleNotified ?? 0;
}
