import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/**
 * Seals secrets with AES-256-GCM before they leave the process (TOKEN_ENCRYPTION_KEY: 32-byte
 * base64 keys, required with REDIS_URL; no token may reach Redis in clear text).
 * A sealed value names the key that sealed it (a short hash, not the key), so several keys can be
 * configured at once: the first seals, every one opens, and keys rotate without downtime.
 * The store key is bound as additional authenticated data, so a sealed value copied under another
 * key does not open.
 */
export class Sealer {
  private readonly keys: { id: string; key: Buffer }[];

  /** `keys[0]` seals; all of them open. Each must be 32 bytes. */
  constructor(keys: Buffer[]) {
    if (keys.length === 0) throw new Error('Sealer needs at least one key');
    for (const key of keys) {
      if (key.length !== 32) throw new Error(`Sealer keys must be 32 bytes; got ${key.length}`);
    }
    this.keys = keys.map((key) => ({ id: keyId(key), key }));
  }

  /** A sealer with a random key that lives as long as the process (the in-memory store's case). */
  static ephemeral(): Sealer {
    return new Sealer([randomBytes(32)]);
  }

  /** Encrypts `plaintext`, authenticating `context` (the store key) alongside it. */
  seal(plaintext: string, context: string): string {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return [VERSION, id, iv.toString('base64url'), body.toString('base64url')].join('.');
  }

  /** Decrypts a sealed value; undefined when it is malformed, sealed under an unknown key, or tampered with. */
  open(sealed: string, context: string): string | undefined {
    const [version, id, ivText, bodyText] = sealed.split('.');
    if (version !== VERSION || !ivText || !bodyText) return undefined;
    const entry = this.keys.find((candidate) => candidate.id === id);
    if (!entry) return undefined;
    try {
      const body = Buffer.from(bodyText, 'base64url');
      // Only full 16-byte tags: GCM also accepts 4- to 15-byte tags, and a short one is forgeable.
      if (body.length < TAG_BYTES) return undefined;
      const decipher = createDecipheriv('aes-256-gcm', entry.key, Buffer.from(ivText, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}

/** The GCM authentication tag length, in bytes; anything shorter is refused. */
const TAG_BYTES = 16;

function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 8);
}
