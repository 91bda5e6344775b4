import { describe, expect, it } from 'vitest';
import { fingerprint, isUsable, recordFromAuth0, type TokenRecord } from './record.js';

// A token is handed out only while it has life left: 60 s for an exact expiry (from our own
// refresh), 5 minutes for Auth0's estimate (its expires_in may have started before the login time we
// reckon from). The fingerprint tells which pair Auth0 held when we adopted it, without keeping it.

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const MINUTE = 60_000;

function record(overrides: Partial<TokenRecord>): TokenRecord {
  return { accessToken: 'at', refreshToken: 'rt', expiresAt: NOW + 60 * MINUTE, exactExpiry: true, auth0: 'fp', updatedAt: NOW, ...overrides };
}

describe('isUsable', () => {
  it('is usable with plenty of life left', () => {
    expect(isUsable(record({}), NOW)).toBe(true);
    expect(isUsable(record({ exactExpiry: false }), NOW)).toBe(true);
  });

  it('keeps a 60 s margin for an exact expiry', () => {
    expect(isUsable(record({ expiresAt: NOW + MINUTE + 1 }), NOW)).toBe(true);
    expect(isUsable(record({ expiresAt: NOW + MINUTE }), NOW)).toBe(false);
    expect(isUsable(record({ expiresAt: NOW + 30_000 }), NOW)).toBe(false);
  });

  it('keeps a wider 5-minute margin for an estimated expiry', () => {
    expect(isUsable(record({ exactExpiry: false, expiresAt: NOW + 5 * MINUTE + 1 }), NOW)).toBe(true);
    expect(isUsable(record({ exactExpiry: false, expiresAt: NOW + 5 * MINUTE }), NOW)).toBe(false);
    // Within the exact margin's reach but not the estimate's: only an exact expiry is trusted that close.
    expect(isUsable(record({ exactExpiry: false, expiresAt: NOW + 2 * MINUTE }), NOW)).toBe(false);
    expect(isUsable(record({ exactExpiry: true, expiresAt: NOW + 2 * MINUTE }), NOW)).toBe(true);
  });

  it('never hands out a token that expires before a request could use it, however it learned the expiry', () => {
    // Exact (our own refresh): 30 s left is too little, 2 minutes is enough.
    expect(isUsable(record({ exactExpiry: true, expiresAt: NOW + 30_000 }), NOW)).toBe(false);
    expect(isUsable(record({ exactExpiry: true, expiresAt: NOW + 2 * MINUTE }), NOW)).toBe(true);
    // Estimated (Auth0's expires_in from the login time): 4 minutes left is too little, 6 is enough.
    expect(isUsable(record({ exactExpiry: false, expiresAt: NOW + 4 * MINUTE }), NOW)).toBe(false);
    expect(isUsable(record({ exactExpiry: false, expiresAt: NOW + 6 * MINUTE }), NOW)).toBe(true);
  });

  it('is not usable once expired', () => {
    for (const exactExpiry of [true, false]) {
      expect(isUsable(record({ exactExpiry, expiresAt: NOW }), NOW)).toBe(false);
      expect(isUsable(record({ exactExpiry, expiresAt: NOW - 1 }), NOW)).toBe(false);
      expect(isUsable(record({ exactExpiry, expiresAt: 0 }), NOW)).toBe(false);
    }
  });

  it('is never usable without an access token, whatever the expiry', () => {
    for (const expiresAt of [null, NOW + 60 * MINUTE]) {
      expect(isUsable(record({ accessToken: null, expiresAt }), NOW)).toBe(false);
      expect(isUsable(record({ accessToken: '', expiresAt }), NOW)).toBe(false);
    }
  });

  it('counts an unknown expiry as usable (the provider will say when it is not)', () => {
    expect(isUsable(record({ expiresAt: null }), NOW)).toBe(true);
    expect(isUsable(record({ expiresAt: null, exactExpiry: false, refreshToken: null }), NOW)).toBe(true);
  });

  it('does not depend on the refresh token', () => {
    expect(isUsable(record({ refreshToken: null }), NOW)).toBe(true);
    expect(isUsable(record({ refreshToken: null, expiresAt: NOW + 30_000 }), NOW)).toBe(false);
  });

  it('judges against the clock by default', () => {
    expect(isUsable(record({ expiresAt: Date.now() + 10 * MINUTE }))).toBe(true);
    expect(isUsable(record({ expiresAt: Date.now() + 30_000 }))).toBe(false);
  });
});

describe('fingerprint', () => {
  it('is stable for the same pair', () => {
    expect(fingerprint({ accessToken: 'a', refreshToken: 'r' })).toBe(fingerprint({ accessToken: 'a', refreshToken: 'r' }));
  });

  it('is short, URL-safe and contains neither token', () => {
    const accessToken = 'ya29.a0AfH6SMB-access-secret';
    const refreshToken = '1//0g-refresh-secret';
    const value = fingerprint({ accessToken, refreshToken });
    expect(value).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(value).not.toContain('secret');
    for (const token of [accessToken, refreshToken]) {
      expect(value).not.toContain(token);
      expect(value).not.toContain(Buffer.from(token).toString('base64url').slice(0, 8));
    }
  });

  it('differs when either token changes', () => {
    const base = fingerprint({ accessToken: 'a', refreshToken: 'r' });
    expect(fingerprint({ accessToken: 'a2', refreshToken: 'r' })).not.toBe(base);
    expect(fingerprint({ accessToken: 'a', refreshToken: 'r2' })).not.toBe(base);
    expect(fingerprint({ accessToken: 'a' })).not.toBe(base);
    expect(fingerprint({ refreshToken: 'r' })).not.toBe(base);
  });

  it('tells the tokens apart by position: a swapped or re-split pair is another pair', () => {
    expect(fingerprint({ accessToken: 'x', refreshToken: 'y' })).not.toBe(fingerprint({ accessToken: 'y', refreshToken: 'x' }));
    expect(fingerprint({ accessToken: 'ab', refreshToken: 'c' })).not.toBe(fingerprint({ accessToken: 'a', refreshToken: 'bc' }));
    expect(fingerprint({ accessToken: 'abc' })).not.toBe(fingerprint({ refreshToken: 'abc' }));
  });

  it('is one value for "no token" however it is spelt', () => {
    expect(fingerprint({ accessToken: undefined, refreshToken: 'r' })).toBe(fingerprint({ accessToken: '', refreshToken: 'r' }));
    expect(fingerprint({})).toBe(fingerprint({ accessToken: '', refreshToken: '' }));
  });

  it('does not collide over many distinct pairs', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(fingerprint({ accessToken: `at-${i}`, refreshToken: `rt-${i % 7}` }));
    expect(seen.size).toBe(2000);
  });
});

describe('recordFromAuth0', () => {
  it('adopts the pair with its estimated expiry, marked as an estimate', () => {
    expect(recordFromAuth0({ accessToken: 'at', refreshToken: 'rt', expiresAt: NOW + MINUTE * 30 }, NOW)).toEqual({
      accessToken: 'at',
      refreshToken: 'rt',
      expiresAt: NOW + MINUTE * 30,
      exactExpiry: false,
      auth0: fingerprint({ accessToken: 'at', refreshToken: 'rt' }),
      updatedAt: NOW,
    });
  });

  it('stores absent tokens as null and keeps an unknown expiry unknown', () => {
    const adopted = recordFromAuth0({ refreshToken: 'rt', expiresAt: null }, NOW);
    expect(adopted.accessToken).toBeNull();
    expect(adopted.refreshToken).toBe('rt');
    expect(adopted.expiresAt).toBeNull();
    expect(adopted.auth0).toBe(fingerprint({ refreshToken: 'rt' }));
  });

  it('gets the wider estimate margin, so an adopted token close to its estimated expiry is renewed', () => {
    const adopted = recordFromAuth0({ accessToken: 'at', refreshToken: 'rt', expiresAt: NOW + 3 * MINUTE }, NOW);
    expect(isUsable(adopted, NOW)).toBe(false);
  });

  it('keeps no token in its fingerprint', () => {
    const adopted = recordFromAuth0({ accessToken: 'at-secret', refreshToken: 'rt-secret', expiresAt: null }, NOW);
    expect(adopted.auth0).not.toContain('secret');
  });

  it('stamps the write time (the clock by default)', () => {
    const before = Date.now();
    const adopted = recordFromAuth0({ accessToken: 'at', expiresAt: null });
    expect(adopted.updatedAt).toBeGreaterThanOrEqual(before);
    expect(adopted.updatedAt).toBeLessThanOrEqual(Date.now());
  });
});
