/** Small helpers shared by the client modules. */

/** `http(s)://host` or `ws(s)://host` without a path → `ws(s)://host/ws`. */
export function normalizeUrl(url: string): string {
  let u = url.replace(/^http(s?):\/\//, "ws$1://");
  const m = /^(wss?:\/\/[^/]+)(\/.*)?$/.exec(u);
  if (m && (!m[2] || m[2] === "/")) u = `${m[1]}/ws`;
  return u;
}

/** A fresh idempotency key. */
export function randomKey(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  // Insecure browser contexts lack randomUUID; uniqueness is what matters here.
  return `k-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

