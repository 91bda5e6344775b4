import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sealer } from './sealing.js';

// Sealer keeps provider tokens confidential and authentic in a store we do not fully trust
// (TOKEN_ENCRYPTION_KEY). Someone who can read or write Redis but lacks the key must
// learn nothing from a sealed value, and must not be able to make `open` return anything but
// undefined — not by tampering, not by moving a sealed value under another key name.

const KEY_A = Buffer.alloc(32, 0xa1);
const KEY_B = Buffer.alloc(32, 0xb2);
const CONTEXT = 'token:{abc123}';
const SECRET = JSON.stringify({ accessToken: 'ya29.a0AfH6SMB-very-secret', refreshToken: '1//0g-refresh-secret' });

/** The four dot-separated parts of a sealed value. */
function parts(sealed: string): [string, string, string, string] {
  const split = sealed.split('.');
  expect(split).toHaveLength(4);
  return split as [string, string, string, string];
}

/** Flips one bit of a base64url part's decoded bytes. */
function flipBit(part: string, byte: number, bit = 0): string {
  const bytes = Buffer.from(part, 'base64url');
  bytes[byte] = bytes[byte]! ^ (1 << bit);
  return bytes.toString('base64url');
}

describe('Sealer: round trip', () => {
  it('opens what it sealed, under the same context', () => {
    const sealer = new Sealer([KEY_A]);
    expect(sealer.open(sealer.seal(SECRET, CONTEXT), CONTEXT)).toBe(SECRET);
  });

  it('round-trips the empty string, unicode and large values exactly', () => {
    const sealer = new Sealer([KEY_A]);
    for (const plaintext of ['', 'x', 'ünïcødé ✓ 🔑 \u0000 nul', 'a'.repeat(100_000)]) {
      expect(sealer.open(sealer.seal(plaintext, CONTEXT), CONTEXT)).toBe(plaintext);
    }
  });

  it('has the form v1.<key id>.<iv>.<ciphertext+tag>, all base64url', () => {
    const sealed = new Sealer([KEY_A]).seal(SECRET, CONTEXT);
    const [version, id, iv, body] = parts(sealed);
    expect(version).toBe('v1');
    for (const part of [id, iv, body]) expect(part).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
    // GCM: ciphertext as long as the plaintext, then a full 16-byte tag.
    expect(Buffer.from(body, 'base64url')).toHaveLength(Buffer.byteLength(SECRET) + 16);
  });
});

describe('Sealer: confidentiality', () => {
  it('contains neither the plaintext nor an encoding of it', () => {
    const sealed = new Sealer([KEY_A]).seal(SECRET, CONTEXT);
    for (const fragment of ['ya29.a0AfH6SMB-very-secret', '1//0g-refresh-secret', 'very-secret', 'refresh-secret', 'accessToken']) {
      expect(sealed).not.toContain(fragment);
      expect(sealed).not.toContain(Buffer.from(fragment).toString('base64url'));
      expect(sealed).not.toContain(Buffer.from(fragment).toString('base64'));
      expect(sealed).not.toContain(Buffer.from(fragment).toString('hex'));
    }
    // Nor does the ciphertext carry the plaintext's bytes in clear.
    const body = Buffer.from(parts(sealed)[3], 'base64url');
    expect(body.includes(Buffer.from('very-secret'))).toBe(false);
  });

  it('contains neither the key nor the context', () => {
    const sealed = new Sealer([KEY_A]).seal(SECRET, CONTEXT);
    for (const encoding of ['base64', 'base64url', 'hex'] as const) {
      expect(sealed).not.toContain(KEY_A.toString(encoding));
    }
    expect(sealed).not.toContain(CONTEXT);
    expect(sealed).not.toContain('abc123');
  });

  it('names its key by a short hash, not by the key itself', () => {
    const [, id] = parts(new Sealer([KEY_A]).seal(SECRET, CONTEXT));
    expect(id.length).toBeLessThanOrEqual(16);
    expect(id).toBe(createHash('sha256').update(KEY_A).digest('base64url').slice(0, id.length));
    expect(Buffer.from(id, 'base64url').length).toBeLessThan(KEY_A.length);
  });

  it('uses a fresh IV every time: the same value sealed twice looks different (no GCM nonce reuse)', () => {
    const sealer = new Sealer([KEY_A]);
    const ivs = new Set<string>();
    const bodies = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const [, , iv, body] = parts(sealer.seal(SECRET, CONTEXT));
      ivs.add(iv);
      bodies.add(body);
    }
    expect(ivs.size).toBe(200);
    expect(bodies.size).toBe(200);
  });
});

describe('Sealer: binding to the store key (context)', () => {
  it('does not open a sealed value moved under another key name', () => {
    const sealer = new Sealer([KEY_A]);
    const sealed = sealer.seal(SECRET, 'token:{alice}');
    expect(sealer.open(sealed, 'token:{mallory}')).toBeUndefined();
    expect(sealer.open(sealed, 'token:{alice} ')).toBeUndefined();
    expect(sealer.open(sealed, 'TOKEN:{alice}')).toBeUndefined();
    expect(sealer.open(sealed, 'token:{alice')).toBeUndefined();
    expect(sealer.open(sealed, '')).toBeUndefined();
    expect(sealer.open(sealed, 'token:{alice}')).toBe(SECRET);
  });

  it('binds the empty context too', () => {
    const sealer = new Sealer([KEY_A]);
    expect(sealer.open(sealer.seal(SECRET, ''), '')).toBe(SECRET);
    expect(sealer.open(sealer.seal(SECRET, ''), 'auth0:management-token')).toBeUndefined();
  });

  it('compares contexts as exact UTF-8 bytes', () => {
    const sealer = new Sealer([KEY_A]);
    const composed = 'token:{caf\u00e9}';
    const decomposed = 'token:{cafe\u0301}';
    expect(sealer.open(sealer.seal(SECRET, composed), decomposed)).toBeUndefined();
  });
});

describe('Sealer: tampering', () => {
  const sealer = new Sealer([KEY_A]);
  const sealed = sealer.seal(SECRET, CONTEXT);
  const [version, id, iv, body] = parts(sealed);
  const bodyLength = Buffer.from(body, 'base64url').length;

  it('detects a flipped bit anywhere in the ciphertext or the tag', () => {
    for (let byte = 0; byte < bodyLength; byte++) {
      const tampered = [version, id, iv, flipBit(body, byte, byte % 8)].join('.');
      expect(sealer.open(tampered, CONTEXT), `byte ${byte}`).toBeUndefined();
    }
  });

  it('detects a changed IV', () => {
    for (let byte = 0; byte < 12; byte++) {
      expect(sealer.open([version, id, flipBit(iv, byte), body].join('.'), CONTEXT)).toBeUndefined();
    }
    expect(sealer.open([version, id, randomBytes(12).toString('base64url'), body].join('.'), CONTEXT)).toBeUndefined();
  });

  it('detects a truncated or extended body', () => {
    const bytes = Buffer.from(body, 'base64url');
    for (const cut of [1, 5, 16, 17, bytes.length - 1]) {
      expect(sealer.open([version, id, iv, bytes.subarray(0, bytes.length - cut).toString('base64url')].join('.'), CONTEXT)).toBeUndefined();
      expect(sealer.open([version, id, iv, bytes.subarray(cut).toString('base64url')].join('.'), CONTEXT)).toBeUndefined();
    }
    expect(sealer.open([version, id, iv, Buffer.concat([bytes, Buffer.from([0])]).toString('base64url')].join('.'), CONTEXT)).toBeUndefined();
  });

  it('does not open a body with its 16-byte tag replaced by another', () => {
    const bytes = Buffer.from(body, 'base64url');
    const forged = Buffer.concat([bytes.subarray(0, bytes.length - 16), randomBytes(16)]);
    expect(sealer.open([version, id, iv, forged.toString('base64url')].join('.'), CONTEXT)).toBeUndefined();
  });

  it('does not open a ciphertext swapped in from another sealed value', () => {
    const other = parts(sealer.seal('{"accessToken":"attacker"}', CONTEXT));
    expect(sealer.open([version, id, iv, other[3]].join('.'), CONTEXT)).toBeUndefined();
    expect(sealer.open([version, id, other[2], body].join('.'), CONTEXT)).toBeUndefined();
  });

  it('answers undefined, never throws, for malformed values', () => {
    const malformed = [
      '',
      '.',
      '...',
      'v1',
      'v1.',
      `v1.${id}`,
      `v1.${id}.${iv}`,
      `v1.${id}.${iv}.`,
      `v1.${id}..${body}`,
      `v2.${id}.${iv}.${body}`,
      `V1.${id}.${iv}.${body}`,
      `.${id}.${iv}.${body}`,
      `v1.${id}.!!!.${body}`,
      `v1.${id}.${iv}.%%%`,
      `v1.${id}.${iv}.AAAA`,
      `v1.${id}.${iv}.${'A'.repeat(10)}`,
      SECRET,
      'not sealed at all',
    ];
    for (const value of malformed) {
      expect(() => sealer.open(value, CONTEXT), value).not.toThrow();
      expect(sealer.open(value, CONTEXT), value).toBeUndefined();
    }
  });

  // GCM also accepts 4- to 15-byte tags; a sealed value must carry a full 16-byte tag, or a
  // forgery needs about 2^32 guesses instead of 2^128.
  it('refuses truncated GCM tags (a 4-byte tag must not authenticate anything)', () => {
    const iv12 = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', KEY_A, iv12, { authTagLength: 4 });
    cipher.setAAD(Buffer.from(CONTEXT, 'utf8'));
    const shortBody = Buffer.concat([cipher.update('12345678', 'utf8'), cipher.final(), cipher.getAuthTag()]);
    const forged = ['v1', id, iv12.toString('base64url'), shortBody.toString('base64url')].join('.');
    expect(sealer.open(forged, CONTEXT)).toBeUndefined();
  });
});

describe('Sealer: keys and rotation', () => {
  it('refuses to be built without a key or with a key that is not 32 bytes', () => {
    expect(() => new Sealer([])).toThrow(/at least one key/);
    for (const length of [0, 16, 24, 31, 33, 64]) {
      expect(() => new Sealer([Buffer.alloc(length, 1)]), `${length} bytes`).toThrow(/32 bytes/);
    }
    expect(() => new Sealer([KEY_A, Buffer.alloc(16, 1)])).toThrow(/32 bytes/);
  });

  it('does not open what another key sealed', () => {
    const sealed = new Sealer([KEY_A]).seal(SECRET, CONTEXT);
    expect(new Sealer([KEY_B]).open(sealed, CONTEXT)).toBeUndefined();
  });

  it('does not open a value whose key id was relabelled to a key it holds', () => {
    const sealed = new Sealer([KEY_A]).seal(SECRET, CONTEXT);
    const [version, , iv, body] = parts(sealed);
    const [, idB] = parts(new Sealer([KEY_B]).seal('x', CONTEXT));
    expect(new Sealer([KEY_B, KEY_A]).open([version, idB, iv, body].join('.'), CONTEXT)).toBeUndefined();
  });

  it('rotates: the first key seals, every key opens', () => {
    const before = new Sealer([KEY_A]);
    const during = new Sealer([KEY_B, KEY_A]);
    const oldValue = before.seal(SECRET, CONTEXT);
    const newValue = during.seal(SECRET, CONTEXT);

    // Values sealed before the rotation still open.
    expect(during.open(oldValue, CONTEXT)).toBe(SECRET);
    // New values are sealed with the new (first) key: the old key alone cannot open them…
    expect(before.open(newValue, CONTEXT)).toBeUndefined();
    expect(parts(newValue)[1]).not.toBe(parts(oldValue)[1]);
    expect(parts(newValue)[1]).toBe(parts(new Sealer([KEY_B]).seal('x', CONTEXT))[1]);
    // …and once the old key is dropped, only values sealed with it stop opening.
    const after = new Sealer([KEY_B]);
    expect(after.open(newValue, CONTEXT)).toBe(SECRET);
    expect(after.open(oldValue, CONTEXT)).toBeUndefined();
  });

  it('opens with any configured key, whatever its position', () => {
    const keys = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const all = new Sealer(keys);
    for (const key of keys) {
      expect(all.open(new Sealer([key]).seal(SECRET, CONTEXT), CONTEXT)).toBe(SECRET);
    }
  });

  it('still binds the context after a rotation', () => {
    const oldValue = new Sealer([KEY_A]).seal(SECRET, 'token:{alice}');
    expect(new Sealer([KEY_B, KEY_A]).open(oldValue, 'token:{mallory}')).toBeUndefined();
  });
});

describe('Sealer.ephemeral', () => {
  it('round-trips within one sealer', () => {
    const sealer = Sealer.ephemeral();
    expect(sealer.open(sealer.seal(SECRET, CONTEXT), CONTEXT)).toBe(SECRET);
  });

  it('has a random key: another ephemeral sealer, or a fixed key, cannot open its values', () => {
    const one = Sealer.ephemeral();
    const two = Sealer.ephemeral();
    const sealed = one.seal(SECRET, CONTEXT);
    expect(two.open(sealed, CONTEXT)).toBeUndefined();
    expect(new Sealer([Buffer.alloc(32, 0)]).open(sealed, CONTEXT)).toBeUndefined();
    expect(parts(sealed)[1]).not.toBe(parts(two.seal(SECRET, CONTEXT))[1]);
  });

  it('still refuses tampering and a foreign context', () => {
    const sealer = Sealer.ephemeral();
    const [version, id, iv, body] = parts(sealer.seal(SECRET, CONTEXT));
    expect(sealer.open([version, id, iv, flipBit(body, 0)].join('.'), CONTEXT)).toBeUndefined();
    expect(sealer.open([version, id, iv, body].join('.'), 'elsewhere')).toBeUndefined();
  });
});
