"use client";

import { useActionState } from "react";
import { signIn, type SignInState } from "@/app/actions";

export function SignInForm() {
  const [state, action, pending] = useActionState<SignInState, FormData>(signIn, {});
  return (
    <form action={action} className="stack">
      <label htmlFor="name">Your name</label>
      <input id="name" name="name" autoFocus autoComplete="nickname" maxLength={32} required placeholder="Ada" />
      {state.error ? (
        <p role="alert" className="error">
          {state.error}
        </p>
      ) : null}
      <button type="submit" disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
}
