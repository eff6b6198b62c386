/**
 * End-to-end encrypted channels (docs/encryption.md): `data` is sealed with
 * AES-256-GCM (WebCrypto) before it leaves the client and opened when a
 * publication enters the SDK, so Herald only stores and relays the envelope
 *
 * ```json
 * {"herald_e2e":1,"kid":"2026-12","iv":"<base64, 12 bytes>","ct":"<base64: ciphertext ‖ 16-byte tag>"}
 * ```
 *
 * The plaintext is `JSON.stringify(data)`; the additional data binds the
 * envelope version, the channel name and the key id, so a ciphertext copied
 * to another channel (or relabelled with another key id) fails to open.
 */
import { ClientErrorCode, HeraldError } from "./errors.js";

/** The envelope version this SDK writes and reads. */
export const ENVELOPE_VERSION = 1;

/** What Herald stores and relays for a publication on an encrypted channel. */
export interface EncryptedEnvelope {
  herald_e2e: typeof ENVELOPE_VERSION;
  /** The key id the message was sealed with (looked up with `keyProvider(kid)` on receipt). */
  kid: string;
  /** The 96-bit nonce, base64. Fresh and random for every message. */
  iv: string;
  /** The AES-GCM ciphertext with its 128-bit tag appended, base64. */
  ct: string;
}

/** A channel key: 32 raw bytes (a `Uint8Array` or base64 string) or an AES-GCM `CryptoKey`, named by `kid`. */
export interface ChannelKey {
  kid: string;
  key: Uint8Array | string | CryptoKey;
}

/**
 * The `encryption` option of `herald.channel(name, { encryption })`. Give a
 * fixed `key`, or a `keyProvider` for rotation: it is called with no key id
 * for the key to seal new messages with, and with a message's `kid` to open
 * it (return `undefined` for a key you don't have). Results are cached per
 * kid; the current key is asked again after `currentKeyTtlMs`.
 */
export interface ChannelEncryptionOptions {
  key?: ChannelKey;
  keyProvider?: (kid?: string) => Promise<ChannelKey | undefined> | ChannelKey | undefined;
  /** How long the current key (asked without a kid) is cached. Default 60 000 ms. */
  currentKeyTtlMs?: number;
}

/** Why a publication on an encrypted channel could not be opened. */
export type DecryptFailure = "unknown_key" | "authentication" | "not_encrypted" | "malformed";

/** The channel event `decrypt_error`: the publication was dropped, never delivered as plaintext. */
export interface DecryptErrorEvent {
  channel: string;
  /** The publication's offset (absent for a history entry without one). */
  offset?: number;
  kid?: string;
  reason: DecryptFailure;
  error: HeraldError;
}

/** `true` when `v` has the envelope's shape (not that it opens). */
export function isEncryptedEnvelope(v: unknown): v is EncryptedEnvelope {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Record<string, unknown>;
  return e.herald_e2e === ENVELOPE_VERSION && typeof e.kid === "string" && typeof e.iv === "string" && typeof e.ct === "string";
}

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function subtle(): SubtleCrypto {
  const s = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!s) {
    throw new HeraldError(
      ClientErrorCode.Encryption,
      "encrypted channels need WebCrypto (crypto.subtle): a secure context (https or localhost) or Node 20+",
    );
  }
  return s;
}

const utf8 = new TextEncoder();

function additionalData(channel: string, kid: string): Uint8Array<ArrayBuffer> {
  return utf8.encode(JSON.stringify(["herald_e2e", ENVELOPE_VERSION, channel, kid]));
}

/** A decryption failure with its reason (becomes a `decrypt_error` event). */
export class DecryptError extends HeraldError {
  constructor(
    readonly reason: DecryptFailure,
    message: string,
    readonly kid?: string,
  ) {
    super(ClientErrorCode.Decrypt, message, false);
    this.name = "DecryptError";
  }
}

/** A channel's end-to-end cipher: what a channel seals publishes with and opens publications with. */
export abstract class PayloadCipher {
  /** Seals run one after another, so publishes keep their order. */
  private sealing: Promise<unknown> = Promise.resolve();

  constructor(readonly channel: string) {}

  /** The wire data for `data`. */
  abstract seal(data: unknown): Promise<unknown>;

  /** The plaintext data of a publication; throws a {@link DecryptError}. */
  abstract open(data: unknown): Promise<unknown>;

  /**
   * Seals `data`, then calls `send` with the sealed data, in call order (so
   * a publish queued offline keeps its place). Rejects when sealing fails.
   */
  sealThen<R>(data: unknown, send: (sealed: unknown) => Promise<R>): Promise<R> {
    const sealed = this.sealing.then(() => this.seal(data));
    this.sealing = sealed.catch(() => {});
    return sealed.then(send);
  }
}

/** Seals and opens one channel's messages (AES-256-GCM envelopes); caches imported keys by kid. */
export class ChannelCipher extends PayloadCipher {
  private readonly keys = new Map<string, Promise<CryptoKey | undefined>>();
  private current: { at: number; key: Promise<{ kid: string; key: CryptoKey }> } | undefined;

  constructor(
    channel: string,
    private readonly options: ChannelEncryptionOptions,
  ) {
    super(channel);
    if (!options.key && !options.keyProvider) {
      throw new HeraldError(ClientErrorCode.Encryption, `channel ${channel}: encryption needs a key or a keyProvider`);
    }
  }

  async seal(data: unknown): Promise<EncryptedEnvelope> {
    const { kid, key } = await this.currentKey();
    const iv = new Uint8Array(12);
    (globalThis as { crypto: Crypto }).crypto.getRandomValues(iv);
    const plaintext = utf8.encode(JSON.stringify(data ?? null));
    const ct = await subtle().encrypt({ name: "AES-GCM", iv, additionalData: additionalData(this.channel, kid) }, key, plaintext);
    return { herald_e2e: ENVELOPE_VERSION, kid, iv: toBase64(iv), ct: toBase64(new Uint8Array(ct)) };
  }

  /** Opens an envelope; throws a {@link DecryptError} (never returns plaintext that did not authenticate). */
  async open(data: unknown): Promise<unknown> {
    if (!isEncryptedEnvelope(data)) {
      const reason: DecryptFailure =
        typeof data === "object" && data !== null && "herald_e2e" in data ? "malformed" : "not_encrypted";
      throw new DecryptError(reason, `channel ${this.channel}: a publication is not an encrypted envelope (${reason})`);
    }
    const key = await this.keyFor(data.kid);
    if (!key) throw new DecryptError("unknown_key", `channel ${this.channel}: no key for kid "${data.kid}"`, data.kid);
    let iv: Uint8Array<ArrayBuffer>;
    let ct: Uint8Array<ArrayBuffer>;
    try {
      iv = fromBase64(data.iv);
      ct = fromBase64(data.ct);
    } catch {
      throw new DecryptError("malformed", `channel ${this.channel}: the envelope's iv or ct is not base64`, data.kid);
    }
    let plain: ArrayBuffer;
    try {
      plain = await subtle().decrypt({ name: "AES-GCM", iv, additionalData: additionalData(this.channel, data.kid) }, key, ct);
    } catch {
      throw new DecryptError(
        "authentication",
        `channel ${this.channel}: the message failed authentication (wrong key, tampered, or sealed for another channel)`,
        data.kid,
      );
    }
    try {
      return JSON.parse(new TextDecoder().decode(plain)) as unknown;
    } catch {
      throw new DecryptError("malformed", `channel ${this.channel}: the plaintext is not JSON`, data.kid);
    }
  }

  private currentKey(): Promise<{ kid: string; key: CryptoKey }> {
    const ttl = this.options.currentKeyTtlMs ?? 60_000;
    const now = Date.now();
    if (this.current && now - this.current.at < ttl) return this.current.key;
    const key = (async () => {
      const k = this.options.keyProvider ? await this.options.keyProvider() : this.options.key;
      if (!k) throw new HeraldError(ClientErrorCode.Encryption, `channel ${this.channel}: no current key to encrypt with`);
      const imported = await importKey(k.key);
      this.keys.set(k.kid, Promise.resolve(imported));
      return { kid: k.kid, key: imported };
    })();
    this.current = { at: now, key };
    key.catch(() => {
      if (this.current?.key === key) this.current = undefined;
    });
    return key;
  }

  private keyFor(kid: string): Promise<CryptoKey | undefined> {
    let k = this.keys.get(kid);
    if (!k) {
      k = (async () => {
        if (this.options.key?.kid === kid) return importKey(this.options.key.key);
        const provided = this.options.keyProvider ? await this.options.keyProvider(kid) : undefined;
        return provided && provided.kid === kid ? importKey(provided.key) : undefined;
      })();
      const pending = k;
      this.keys.set(kid, pending);
      // A missing or failed key is asked again next time (it may have been issued since).
      pending.then(
        (v) => {
          if (!v && this.keys.get(kid) === pending) this.keys.delete(kid);
        },
        () => {
          if (this.keys.get(kid) === pending) this.keys.delete(kid);
        },
      );
    }
    return k.catch(() => undefined);
  }
}

async function importKey(key: Uint8Array | string | CryptoKey): Promise<CryptoKey> {
  if (typeof key !== "string" && !(key instanceof Uint8Array)) return key;
  const raw = typeof key === "string" ? fromBase64(key) : new Uint8Array(key);
  if (raw.length !== 32) {
    throw new HeraldError(ClientErrorCode.Encryption, `a channel key must be 32 bytes (AES-256), got ${raw.length}`);
  }
  return subtle().importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/** The JSON a key route answers with (`@herald/next`'s `createChannelKeyHandler`). */
export interface ChannelKeysResponse {
  channel: string;
  /** The key id to seal new messages with. */
  current: string;
  /** The current key and the older ones still readable, base64 (32 bytes each). */
  keys: { kid: string; key: string }[];
}

/**
 * A `keyProvider` that fetches a channel's keys from your app's key route
 * (e.g. `/api/channel-keys?channel=secret:case-42`, answered by
 * `@herald/next`'s `createChannelKeyHandler`). The answer is kept; it is
 * fetched again for a key id it does not hold (after a rotation), at most
 * once per `refetchAfterMs` (default 10 000 ms).
 */
export function fetchKeyProvider(
  url: string,
  init: RequestInit = {},
  refetchAfterMs = 10_000,
): (kid?: string) => Promise<ChannelKey | undefined> {
  let last: { at: number; keys: Promise<ChannelKeysResponse> } | undefined;
  const load = (): Promise<ChannelKeysResponse> => {
    const keys = (async () => {
      const r = await fetch(url, { credentials: "same-origin", ...init });
      if (!r.ok) throw new HeraldError(ClientErrorCode.Encryption, `key route ${url} answered ${r.status}`, r.status >= 500);
      return (await r.json()) as ChannelKeysResponse;
    })();
    last = { at: Date.now(), keys };
    keys.catch(() => {
      if (last?.keys === keys) last = undefined;
    });
    return keys;
  };
  return async (kid) => {
    let keys = await (last?.keys ?? load());
    const wanted = kid ?? keys.current;
    let found = keys.keys.find((k) => k.kid === wanted);
    if ((!found || kid === undefined) && last && Date.now() - last.at >= refetchAfterMs) {
      keys = await load();
      found = keys.keys.find((k) => k.kid === (kid ?? keys.current));
    }
    return found;
  };
}
