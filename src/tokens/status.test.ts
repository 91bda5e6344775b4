import { describe, expect, it } from 'vitest';
import { statusFromAuth0, statusOf, statusOfAuth0Tokens, type TokenFacts } from './status.js';

// TokenState (schema/schema.graphql): a known future expiry is VALID, no known expiry UNKNOWN; an expired (or
// missing) access token is EXPIRED when a usable refresh token can mint another, otherwise
// REAUTHENTICATION_REQUIRED; with no token at all nothing is known (UNKNOWN). The status never
// carries a token. Safety margins are not applied here (README: "Known expiry in the future" is
// VALID); they decide when the broker renews (record.ts isUsable, tested there).

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const HOUR = 3_600_000;

function facts(overrides: Partial<TokenFacts>): TokenFacts {
  return { hasAccessToken: true, hasRefreshToken: true, expiresAt: NOW + HOUR, ...overrides };
}

describe('statusOf', () => {
  it('is VALID while the access token has a known future expiry', () => {
    expect(statusOf(facts({}), NOW)).toEqual({ expiresAt: new Date(NOW + HOUR), hasRefreshToken: true, state: 'VALID' });
    expect(statusOf(facts({ hasRefreshToken: false }), NOW)).toEqual({ expiresAt: new Date(NOW + HOUR), hasRefreshToken: false, state: 'VALID' });
    expect(statusOf(facts({ expiresAt: NOW + 1 }), NOW).state).toBe('VALID');
  });

  it('is VALID whether or not the token could be renewed', () => {
    expect(statusOf(facts({ canRenew: false }), NOW).state).toBe('VALID');
    expect(statusOf(facts({ hasRefreshToken: false, canRenew: false }), NOW).state).toBe('VALID');
  });

  it('is no longer VALID at the very millisecond of expiry', () => {
    expect(statusOf(facts({ expiresAt: NOW }), NOW).state).toBe('EXPIRED');
    expect(statusOf(facts({ expiresAt: NOW, hasRefreshToken: false }), NOW).state).toBe('REAUTHENTICATION_REQUIRED');
  });

  it('is EXPIRED for an expired access token with a usable refresh token', () => {
    expect(statusOf(facts({ expiresAt: NOW - 2 * HOUR }), NOW)).toEqual({
      expiresAt: new Date(NOW - 2 * HOUR),
      hasRefreshToken: true,
      state: 'EXPIRED',
    });
    expect(statusOf(facts({ expiresAt: NOW - 1, canRenew: true }), NOW).state).toBe('EXPIRED');
  });

  it('is REAUTHENTICATION_REQUIRED for an expired access token without a refresh token', () => {
    expect(statusOf(facts({ expiresAt: NOW - 1, hasRefreshToken: false }), NOW)).toEqual({
      expiresAt: new Date(NOW - 1),
      hasRefreshToken: false,
      state: 'REAUTHENTICATION_REQUIRED',
    });
  });

  it('is REAUTHENTICATION_REQUIRED for an expired token whose refresh token cannot be used (no refresh grant, e.g. Facebook)', () => {
    const status = statusOf(facts({ expiresAt: NOW - 1, hasRefreshToken: true, canRenew: false }), NOW);
    expect(status.state).toBe('REAUTHENTICATION_REQUIRED');
    // It still says that a refresh token is held: that is a fact, renewability is the state.
    expect(status.hasRefreshToken).toBe(true);
  });

  it('treats a missing access token like an expired one', () => {
    expect(statusOf(facts({ hasAccessToken: false }), NOW)).toEqual({ expiresAt: new Date(NOW + HOUR), hasRefreshToken: true, state: 'EXPIRED' });
    expect(statusOf(facts({ hasAccessToken: false, expiresAt: null }), NOW)).toEqual({ expiresAt: null, hasRefreshToken: true, state: 'EXPIRED' });
    expect(statusOf(facts({ hasAccessToken: false, canRenew: false }), NOW).state).toBe('REAUTHENTICATION_REQUIRED');
    // Even with a future expiry on record: there is no access token to be valid.
    expect(statusOf(facts({ hasAccessToken: false, expiresAt: NOW + HOUR }), NOW).state).not.toBe('VALID');
  });

  it('is UNKNOWN for an access token without a known expiry', () => {
    expect(statusOf(facts({ expiresAt: null }), NOW)).toEqual({ expiresAt: null, hasRefreshToken: true, state: 'UNKNOWN' });
    expect(statusOf(facts({ expiresAt: null, hasRefreshToken: false }), NOW)).toEqual({ expiresAt: null, hasRefreshToken: false, state: 'UNKNOWN' });
  });

  it('is UNKNOWN with no token at all, whatever the expiry says', () => {
    for (const expiresAt of [null, NOW - HOUR, NOW + HOUR]) {
      expect(statusOf({ hasAccessToken: false, hasRefreshToken: false, expiresAt }, NOW)).toEqual({
        expiresAt: null,
        hasRefreshToken: false,
        state: 'UNKNOWN',
      });
    }
  });

  it('defaults canRenew to true', () => {
    expect(statusOf({ hasAccessToken: true, hasRefreshToken: true, expiresAt: NOW - 1 }, NOW).state).toBe('EXPIRED');
  });

  it('ignores canRenew when there is no refresh token', () => {
    expect(statusOf(facts({ expiresAt: NOW - 1, hasRefreshToken: false, canRenew: true }), NOW).state).toBe('REAUTHENTICATION_REQUIRED');
  });

  it('judges against the clock by default', () => {
    const now = Date.now();
    expect(statusOf(facts({ expiresAt: now + HOUR })).state).toBe('VALID');
    expect(statusOf(facts({ expiresAt: now - HOUR })).state).toBe('EXPIRED');
  });

  it('never carries more than expiry, refresh-token presence and state', () => {
    const status = statusOf(facts({}), NOW);
    expect(Object.keys(status).sort()).toEqual(['expiresAt', 'hasRefreshToken', 'state']);
  });
});

describe('statusFromAuth0 (estimated expiry)', () => {
  const stored = '2030-01-01T11:30:00.000Z';
  const storedMs = Date.parse(stored);
  const both = { hasAccessToken: true, hasRefreshToken: true };

  it('reckons the expiry from when Auth0 stored the tokens plus expires_in', () => {
    const status = statusFromAuth0({ expiresIn: 3600 }, both, stored, NOW);
    expect(status.expiresAt).toEqual(new Date(storedMs + 3_600_000));
    expect(status.state).toBe('VALID');
  });

  it('is EXPIRED (renewable) once the estimate has passed', () => {
    // Stored 30 minutes ago with a 20-minute lifetime.
    expect(statusFromAuth0({ expiresIn: 1200 }, both, stored, NOW)).toEqual({
      expiresAt: new Date(storedMs + 1_200_000),
      hasRefreshToken: true,
      state: 'EXPIRED',
    });
  });

  it('is REAUTHENTICATION_REQUIRED once the estimate has passed without a refresh token', () => {
    expect(statusFromAuth0({ expiresIn: 1200 }, { hasAccessToken: true, hasRefreshToken: false }, stored, NOW).state).toBe('REAUTHENTICATION_REQUIRED');
  });

  it('is UNKNOWN without expires_in or without a storage time', () => {
    expect(statusFromAuth0({ expiresIn: null }, both, stored, NOW)).toEqual({ expiresAt: null, hasRefreshToken: true, state: 'UNKNOWN' });
    expect(statusFromAuth0({ expiresIn: 3600 }, both, null, NOW)).toEqual({ expiresAt: null, hasRefreshToken: true, state: 'UNKNOWN' });
  });

  it('treats expires_in 0 as known (expired at storage), not as missing', () => {
    expect(statusFromAuth0({ expiresIn: 0 }, both, stored, NOW)).toEqual({ expiresAt: new Date(storedMs), hasRefreshToken: true, state: 'EXPIRED' });
  });

  it('is UNKNOWN when Auth0 holds no token', () => {
    expect(statusFromAuth0({ expiresIn: 3600 }, { hasAccessToken: false, hasRefreshToken: false }, stored, NOW).state).toBe('UNKNOWN');
  });

  it('uses seconds for expires_in, not milliseconds', () => {
    expect(statusFromAuth0({ expiresIn: 60 }, both, stored, NOW).expiresAt).toEqual(new Date(storedMs + 60_000));
  });
});

describe('statusOfAuth0Tokens', () => {
  it('judges presence from the token strings, never exposing them', () => {
    const status = statusOfAuth0Tokens({ accessToken: 'at-secret', refreshToken: 'rt-secret', expiresAt: NOW + HOUR }, NOW);
    expect(status).toEqual({ expiresAt: new Date(NOW + HOUR), hasRefreshToken: true, state: 'VALID' });
    expect(JSON.stringify(status)).not.toMatch(/secret/);
  });

  it('treats empty strings as absent tokens', () => {
    expect(statusOfAuth0Tokens({ accessToken: '', refreshToken: '', expiresAt: NOW + HOUR }, NOW)).toEqual({
      expiresAt: null,
      hasRefreshToken: false,
      state: 'UNKNOWN',
    });
    expect(statusOfAuth0Tokens({ accessToken: '', refreshToken: 'rt', expiresAt: NOW + HOUR }, NOW).state).toBe('EXPIRED');
  });

  it('applies the same rules: expired admin token with / without refresh token, unknown expiry', () => {
    expect(statusOfAuth0Tokens({ accessToken: 'at', refreshToken: 'rt', expiresAt: NOW - 1 }, NOW).state).toBe('EXPIRED');
    expect(statusOfAuth0Tokens({ accessToken: 'at', expiresAt: NOW - 1 }, NOW).state).toBe('REAUTHENTICATION_REQUIRED');
    expect(statusOfAuth0Tokens({ accessToken: 'at', expiresAt: null }, NOW).state).toBe('UNKNOWN');
    expect(statusOfAuth0Tokens({ expiresAt: null }, NOW).state).toBe('UNKNOWN');
  });
});
