import { createChannelKeyHandler } from "@herald/next";
import { e2eKeyIds, e2eMasterSecret } from "@/lib/config";
import { currentUser } from "@/lib/session";
import { NOTES_CHANNEL } from "@/lib/notes";

// GET /api/channel-keys?channel=notes:team → {channel, current, keys:[{kid,key}]}:
// the end-to-end keys of an encrypted channel, derived here from the app's
// master secret (HKDF) and handed only to signed-in users allowed on the
// channel. Herald never sees them (docs/encryption.md).
export const GET = createChannelKeyHandler({
  masterSecret: e2eMasterSecret(),
  kids: e2eKeyIds(),
  // Demo rule: every signed-in user shares the team's notes. A real app checks
  // the user's membership of the case, chat or document here.
  authorize: async (_req, channel) => channel === NOTES_CHANNEL && (await currentUser()) !== null,
});
