"use server";

import { redirect } from "next/navigation";
import { heraldServer } from "@/lib/herald-server";
import { currentUser, signInAs, signOut, userFromName } from "@/lib/session";
import { countNotificationsSent, knownUsers, rememberUser } from "@/lib/process-memory";

export interface SignInState {
  error?: string;
}

export async function signIn(_prev: SignInState, form: FormData): Promise<SignInState> {
  const user = userFromName(String(form.get("name") ?? ""));
  if (!user) return { error: "Type a name with at least one letter or digit." };
  await signInAs(user);
  rememberUser(user);
  redirect("/chat/general");
}

export async function signOutAction(): Promise<void> {
  await signOut();
  redirect("/");
}

export interface NotifyState {
  ok?: string;
  error?: string;
  /** Changes on every submit, so the form can reset. */
  at?: number;
}

/** Sends a notification to one user or to everyone who signed in (the Server Action of the form). */
export async function notify(_prev: NotifyState, form: FormData): Promise<NotifyState> {
  const me = await currentUser();
  if (!me) return { error: "Sign in first." };
  const to = String(form.get("to") ?? "").trim();
  const title = String(form.get("title") ?? "").trim();
  const body = String(form.get("body") ?? "").trim();
  if (!title) return { error: "A title is required." };
  const users =
    to === "*" ? knownUsers().map((u) => u.id) : [userFromName(to)?.id].filter((x): x is string => Boolean(x));
  if (users.length === 0) return { error: "Choose who gets it." };
  try {
    const sent = await heraldServer().notify(users, {
      kind: to === "*" ? "announcement" : "mention",
      title,
      body,
      data: { from: me.name },
    });
    const n = sent.length;
    countNotificationsSent(n);
    return { ok: `Sent to ${n} ${n === 1 ? "person" : "people"}.`, at: Date.now() };
  } catch (e) {
    return { error: `Herald refused it: ${e instanceof Error ? e.message : String(e)}`, at: Date.now() };
  }
}
