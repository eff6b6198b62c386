import type { ChannelKeysResponse } from "@herald/client";

/**
 * Per-channel keys for `@herald/client`'s encrypted channels
 * (docs/encryption.md), derived on the app server so that Herald never
 * holds them: `key = HKDF-SHA256(ikm = masterSecret, salt = "herald-e2e/v1",
 * info = JSON ["channel", "kid"], 32 bytes)`, base64. Rotating means
 * choosing a new `kid`: every key is re-derivable, so nothing is stored.
 */
export async function deriveChannelKey(masterSecret: string | Uint8Array, channel: string, kid: string): Promise<string> {
  if (masterSecret.length < 32) {
    throw new Error("deriveChannelKey: the master secret must have at least 32 bytes (e.g. `openssl rand -base64 32`)");
  }
  const enc = new TextEncoder();
  const ikm = typeof masterSecret === "string" ? enc.encode(masterSecret) : new Uint8Array(masterSecret);
  const subtle = globalThis.crypto.subtle;
  const base = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const bits = await subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: enc.encode("herald-e2e/v1"), info: enc.encode(JSON.stringify([channel, kid])) },
    base,
    256,
  );
  return Buffer.from(bits).toString("base64");
}

export interface ChannelKeyHandlerOptions {
  /** The app's master secret (≥ 32 bytes, from an env var; never sent to Herald or the browser). */
  masterSecret: string;
  /**
   * Key ids for a channel: the current one first, then older ones whose
   * history should stay readable. Rotate by putting a new id first.
   */
  kids: readonly string[] | ((channel: string) => readonly string[] | Promise<readonly string[]>);
  /** Whether the requester may read and write `channel` (your session check); `false` answers 403. */
  authorize: (req: Request, channel: string) => boolean | Promise<boolean>;
  /** The query parameter naming the channel. Default `channel`. */
  param?: string;
}

const noStore = { "cache-control": "no-store" };

function refuse(status: number, code: number, message: string, temporary = false): Response {
  return Response.json({ error: { code, message, temporary } }, { status, headers: noStore });
}

/**
 * A Route Handler handing an authorized user a channel's keys:
 * `GET /api/channel-keys?channel=secret:case-42` →
 * `{"channel":"secret:case-42","current":"k2","keys":[{"kid":"k2","key":"…"},{"kid":"k1","key":"…"}]}`
 * (`@herald/client`'s `fetchKeyProvider` reads it).
 *
 * ```ts
 * // app/api/channel-keys/route.ts
 * export const GET = createChannelKeyHandler({
 *   masterSecret: process.env.HERALD_E2E_MASTER_SECRET!,
 *   kids: ["2026-12", "2026-11"],
 *   authorize: async (req, channel) => (await session(req))?.canRead(channel) ?? false,
 * });
 * ```
 */
export function createChannelKeyHandler(options: ChannelKeyHandlerOptions): (req: Request) => Promise<Response> {
  return async (req) => {
    const channel = new URL(req.url).searchParams.get(options.param ?? "channel");
    if (!channel) return refuse(400, 107, `missing ?${options.param ?? "channel"}=`);
    try {
      if (!(await options.authorize(req, channel))) return refuse(403, 103, `not allowed to read ${channel}`);
      const kids = typeof options.kids === "function" ? await options.kids(channel) : options.kids;
      const current = kids[0];
      if (current === undefined) return refuse(404, 102, `no key ids for ${channel}`);
      const keys = await Promise.all(
        kids.map(async (kid) => ({ kid, key: await deriveChannelKey(options.masterSecret, channel, kid) })),
      );
      const body: ChannelKeysResponse = { channel, current, keys };
      return Response.json(body, { headers: noStore });
    } catch (e) {
      return refuse(500, 100, `channel keys failed: ${e instanceof Error ? e.message : String(e)}`, true);
    }
  };
}

/**
 * Pusher's shared secret of an encrypted channel (`private-encrypted-X`):
 * `base64(SHA256(pusherChannel ‖ masterKey))`, as the `pusher` server SDK
 * derives it; give it to `herald.channel("pusher:private-encrypted-X", { pusher: { sharedSecret } })`.
 * `pusherChannel` is the Pusher name (without Herald's namespace).
 */
export async function pusherSharedSecret(masterKeyBase64: string, pusherChannel: string): Promise<string> {
  const master = Buffer.from(masterKeyBase64, "base64");
  if (master.length !== 32) throw new Error("pusherSharedSecret: the master key must be 32 bytes, base64");
  const digest = await globalThis.crypto.subtle.digest("SHA-256", Buffer.concat([Buffer.from(pusherChannel), master]));
  return Buffer.from(digest).toString("base64");
}
