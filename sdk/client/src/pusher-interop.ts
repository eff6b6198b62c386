/**
 * Interop with Pusher's end-to-end encrypted channels (`private-encrypted-X`,
 * docs/encryption.md#pusher-interop): pusher-js seals an event's data with
 * NaCl secretbox (XSalsa20-Poly1305) under the channel's shared secret,
 * `SHA256(pusherChannelName ‖ masterKey)`, and sends `{nonce, ciphertext}`
 * (both base64; a 24-byte random nonce). WebCrypto has no XSalsa20, so this
 * path loads `tweetnacl` (the library pusher-js itself uses; audited by
 * Cure53 in 2017, no dependencies) lazily, the first time a Pusher-interop
 * channel seals or opens a message: apps that never use it never load it.
 *
 * Through Herald's Pusher door, Pusher channel `X` is Herald channel
 * `{namespace}:X` and a publication's data is `{"event": name, "data": …}`
 * (docs/pusher.md). On such a channel `publish({ event, data })` seals
 * `data`, and publications arrive as `{ event, data }` with `data` opened.
 */
import { ClientErrorCode, HeraldError } from "./errors.js";
import { DecryptError, fromBase64, PayloadCipher, toBase64 } from "./encryption.js";

/** The `pusher` option of `herald.channel(name, { pusher })`. */
export interface PusherEncryptionOptions {
  /** The channel's shared secret, base64 (what a Pusher auth endpoint answers as `shared_secret`) or 32 bytes. */
  sharedSecret: string | Uint8Array;
  /** The event name for a publish whose data is not `{event, data}`. Default `"message"`. */
  defaultEvent?: string;
}

/** A publication on a Pusher-interop channel, as published and as received. */
export interface PusherEvent<D = unknown> {
  event: string;
  data: D;
}

interface SecretBox {
  (msg: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array;
  open(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null;
}

let secretbox: Promise<SecretBox> | undefined;

/** tweetnacl's secretbox, imported on first use. */
function loadSecretBox(): Promise<SecretBox> {
  secretbox ??= import("tweetnacl").then((m) => {
    const nacl = ((m as { default?: unknown }).default ?? m) as { secretbox: SecretBox };
    return nacl.secretbox;
  });
  return secretbox;
}

const asObject = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined;

/** Seals and opens the `{nonce, ciphertext}` of a Pusher encrypted channel. */
export class PusherCipher extends PayloadCipher {
  private readonly key: Uint8Array;

  constructor(
    channel: string,
    private readonly options: PusherEncryptionOptions,
  ) {
    super(channel);
    this.key = typeof options.sharedSecret === "string" ? fromBase64(options.sharedSecret) : new Uint8Array(options.sharedSecret);
    if (this.key.length !== 32) {
      throw new HeraldError(ClientErrorCode.Encryption, `channel ${channel}: a Pusher shared secret is 32 bytes, got ${this.key.length}`);
    }
  }

  async seal(data: unknown): Promise<PusherEvent<{ nonce: string; ciphertext: string }>> {
    const box = await loadSecretBox();
    const o = asObject(data);
    const event = o && typeof o.event === "string" && "data" in o ? { event: o.event, data: o.data } : { event: this.options.defaultEvent ?? "message", data };
    const nonce = new Uint8Array(24);
    (globalThis as { crypto: Crypto }).crypto.getRandomValues(nonce);
    const ciphertext = box(new TextEncoder().encode(JSON.stringify(event.data ?? null)), nonce, this.key);
    return { event: event.event, data: { nonce: toBase64(nonce), ciphertext: toBase64(ciphertext) } };
  }

  async open(data: unknown): Promise<PusherEvent> {
    const o = asObject(data);
    let inner: unknown = o?.data;
    if (typeof inner === "string") {
      try {
        inner = JSON.parse(inner) as unknown;
      } catch {
        /* reported below */
      }
    }
    const sealed = asObject(inner);
    if (!o || typeof o.event !== "string" || typeof sealed?.nonce !== "string" || typeof sealed.ciphertext !== "string") {
      throw new DecryptError("not_encrypted", `channel ${this.channel}: not a Pusher {event, data: {nonce, ciphertext}} event`);
    }
    const box = await loadSecretBox();
    let plain: Uint8Array | null;
    try {
      plain = box.open(fromBase64(sealed.ciphertext), fromBase64(sealed.nonce), this.key);
    } catch {
      throw new DecryptError("malformed", `channel ${this.channel}: a nonce or ciphertext that is not base64 or the wrong size`);
    }
    if (!plain) throw new DecryptError("authentication", `channel ${this.channel}: the event failed authentication (wrong shared secret or tampered)`);
    const text = new TextDecoder().decode(plain);
    try {
      return { event: o.event, data: JSON.parse(text) as unknown };
    } catch {
      return { event: o.event, data: text }; // pusher-js delivers non-JSON plaintext as a string too
    }
  }
}
