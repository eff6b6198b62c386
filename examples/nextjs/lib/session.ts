import { cookies } from "next/headers";
import type { SessionUser } from "./types";

// A development sign-in: the name is the identity, kept in a cookie. A real
// app would use its own authentication here; Herald only sees the token.
const COOKIE = "herald_demo_user";

/** The user for a typed-in name, or null when the name is unusable. */
export function userFromName(raw: string): SessionUser | null {
  const name = raw.trim().replace(/\s+/g, " ").slice(0, 32);
  const id = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (!id) return null;
  return { id, name };
}

function parse(value: string | undefined): SessionUser | null {
  if (!value) return null;
  try {
    const v = JSON.parse(value) as Partial<SessionUser>;
    if (typeof v.name !== "string") return null;
    return userFromName(v.name);
  } catch {
    return null;
  }
}

/** The signed-in user of this request. */
export async function currentUser(): Promise<SessionUser | null> {
  return parse((await cookies()).get(COOKIE)?.value);
}

export async function signInAs(user: SessionUser): Promise<void> {
  (await cookies()).set(COOKIE, JSON.stringify({ name: user.name }), {
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    maxAge: 60 * 60 * 24 * 30,
  });
}

export async function signOut(): Promise<void> {
  (await cookies()).delete(COOKIE);
}
