import { createTokenHandler, type TokenClaims } from "@herald/next";
import { tokenSecret } from "@/lib/config";
import { currentUser } from "@/lib/session";
import type { UserInfo } from "@/lib/types";
import { rememberUser } from "@/lib/process-memory";

// GET /api/herald-token → {token, expiresAt}: a short-lived HS256 token for
// the signed-in user, which the browser's Herald client fetches before every
// (re)connect. 401 when nobody is signed in.
async function claims(): Promise<TokenClaims<UserInfo> | null> {
  const user = await currentUser();
  if (!user) return null;
  rememberUser(user);
  return {
    sub: user.id,
    info: { name: user.name },
    capabilities: [
      { channels: ["room:*"], allow: ["subscribe", "publish", "history"] },
      { channels: ["online:*", "dash:*"], allow: ["subscribe", "presence"] },
      { channels: ["metrics:*"], allow: ["subscribe", "history"] },
      // Private notes: end-to-end encrypted (the keys come from /api/channel-keys, never from Herald).
      { channels: ["notes:*"], allow: ["subscribe", "publish", "history"] },
      // The orders page's live table: PostgreSQL's changes of public.orders (history: useTable's reset reads it).
      { channels: ["db:public.orders"], allow: ["subscribe", "history"] },
      // Shared documents (doc_open over this connection, @herald/yjs): subscribe = open and sync, publish = edit, presence = listed as viewing.
      { channels: ["doc:*"], allow: ["subscribe", "publish", "presence"] },
    ],
  };
}

export function GET(req: Request): Promise<Response> {
  return createTokenHandler<UserInfo>({ secret: tokenSecret(), claims, ttlSeconds: 600 })(req);
}
