import { HeraldError } from "@herald/next";
import { apiKey, heraldUrl } from "./config";

// HTTP API calls that @herald/next's server client does not wrap (yet):
// notifications and read positions (docs/http-api.md).

async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  const key = apiKey();
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await fetch(`${heraldUrl()}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    signal: AbortSignal.timeout(10_000),
  });
  const json = (await res.json().catch(() => ({}))) as { error?: unknown };
  if (!res.ok || json.error !== undefined) {
    throw json.error !== undefined ? HeraldError.fromWire(json.error) : new Error(`${method} ${path}: HTTP ${res.status}`);
  }
  return json as T;
}

export interface NotificationInput {
  users: string[];
  kind: string;
  title: string;
  body?: string;
  data?: unknown;
}

/** Puts a notification in each user's inbox and pushes it to their open connections. */
export async function sendNotification(n: NotificationInput): Promise<number> {
  const r = await call<{ notifications: unknown[] }>("POST", "/api/notifications", {
    users: n.users,
    kind: n.kind,
    title: n.title,
    body: n.body ?? "",
    data: n.data ?? null,
  });
  return r.notifications.length;
}

export interface ReadPosition {
  user: string;
  offset: number;
}

/** Read positions of a channel's users ("seen by"). */
export async function readPositions(channel: string): Promise<ReadPosition[]> {
  const r = await call<{ members: { user: string; offset: number }[] }>(
    "GET",
    `/api/read/${encodeURIComponent(channel)}`,
  );
  return r.members.map((m) => ({ user: m.user, offset: m.offset }));
}
