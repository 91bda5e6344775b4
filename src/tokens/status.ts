import type { IdentityRecord } from '../auth0/user-record.js';

/** The states of CONTRACT §5 `TokenState`. */
export type TokenState = 'VALID' | 'EXPIRED' | 'REAUTHENTICATION_REQUIRED' | 'UNKNOWN';

/** What is known about an identity's provider token; never the token itself. */
export interface TokenStatus {
  expiresAt: Date | null;
  hasRefreshToken: boolean;
  state: TokenState;
}

/**
 * The status of a token as Auth0 stored it at login. Auth0's `expires_in` comes without an issue
 * time, so the expiry is reckoned from when Auth0 last wrote the user (the later of `last_login`
 * and `updated_at`): an estimate, which is why an expired token with a refresh token is EXPIRED
 * (renewable), and only one without any way to renew is REAUTHENTICATION_REQUIRED.
 */
export function statusFromAuth0(
  identity: Pick<IdentityRecord, 'expiresIn'>,
  tokens: { hasAccessToken: boolean; hasRefreshToken: boolean },
  tokensStoredAt: string | null,
  now = Date.now(),
): TokenStatus {
  const hasRefreshToken = tokens.hasRefreshToken;
  if (!tokens.hasAccessToken) {
    // Nothing to use now; a refresh token can still mint one. Without either there is no provider token at all
    // (a database connection, or a connection whose tokens live in Token Vault): nothing is known.
    return { expiresAt: null, hasRefreshToken, state: hasRefreshToken ? 'EXPIRED' : 'UNKNOWN' };
  }
  if (identity.expiresIn === null || tokensStoredAt === null) return { expiresAt: null, hasRefreshToken, state: 'UNKNOWN' };
  const expiresAt = new Date(Date.parse(tokensStoredAt) + identity.expiresIn * 1000);
  if (expiresAt.getTime() > now) return { expiresAt, hasRefreshToken, state: 'VALID' };
  return { expiresAt, hasRefreshToken, state: hasRefreshToken ? 'EXPIRED' : 'REAUTHENTICATION_REQUIRED' };
}

/** The status of tokens Auth0 holds (e.g. a connection's admin tokens), judged by their expiry alone. */
export function statusOfAuth0Tokens(tokens: { accessToken?: string; refreshToken?: string; expiresAt: number | null }, now = Date.now()): TokenStatus {
  const hasRefreshToken = Boolean(tokens.refreshToken);
  const expiresAt = tokens.expiresAt === null ? null : new Date(tokens.expiresAt);
  if (!tokens.accessToken) return { expiresAt, hasRefreshToken, state: hasRefreshToken ? 'EXPIRED' : 'UNKNOWN' };
  if (!expiresAt) return { expiresAt, hasRefreshToken, state: 'UNKNOWN' };
  if (expiresAt.getTime() > now) return { expiresAt, hasRefreshToken, state: 'VALID' };
  return { expiresAt, hasRefreshToken, state: hasRefreshToken ? 'EXPIRED' : 'REAUTHENTICATION_REQUIRED' };
}
