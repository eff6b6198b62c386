import type { SessionUser } from "./types";

// Users who signed in since this server started, for the notification form.
// On globalThis so that every route bundle of the process shares one map.
const g = globalThis as { __heraldExampleUsers?: Map<string, string> };
const users = (g.__heraldExampleUsers ??= new Map<string, string>());

export function rememberUser(u: SessionUser): void {
  users.set(u.id, u.name);
}

export function knownUsers(): SessionUser[] {
  return [...users].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name));
}
