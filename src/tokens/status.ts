import type { IdentityRecord } from '../auth0/user-record.js';

/** The states of the public `TokenState` enum (schema/schema.graphql); clients branch on them. */
export type TokenState = 'VALID' | 'EXPIRED' | 'REAUTHENTICATION_REQUIRED' | 'UNKNOWN';

/** What is known about an identity's provider token; never the token itself. */
export interface TokenStatus {
  expiresAt: Date | null;
  hasRefreshToken: boolean;
  state: TokenState;
}

/** What a status is judged from: which tokens exist, when the access token expires, whether it can be renewed. */
export interface TokenFacts {
  hasAccessToken: boolean;
  hasRefreshToken: boolean;
  /** Epoch ms; null when unknown. */
  expiresAt: number | null;
  /** Whether the refresh token can actually be used (the provider has a refresh grant); default: it can. */
  canRenew?: boolean;
}

/**
 * The one rule for TokenState: a future expiry is VALID, no known expiry UNKNOWN; an expired (or
 * missing) access token is EXPIRED when a usable refresh token can mint another, else
 * REAUTHENTICATION_REQUIRED; with no token at all nothing is known (a database connection, or one
 * whose tokens live in Token Vault).
 */
export function statusOf(facts: TokenFacts, now = Date.now()): TokenStatus {
  const { hasAccessToken, hasRefreshToken } = facts;
  const renewable = hasRefreshToken && (facts.canRenew ?? true);
  if (!hasAccessToken && !hasRefreshToken) return { expiresAt: null, hasRefreshToken, state: 'UNKNOWN' };
  const expiresAt = facts.expiresAt === null ? null : new Date(facts.expiresAt);
  const expired = renewable ? 'EXPIRED' : 'REAUTHENTICATION_REQUIRED';
  if (!hasAccessToken) return { expiresAt, hasRefreshToken, state: expired };
  if (!expiresAt) return { expiresAt, hasRefreshToken, state: 'UNKNOWN' };
  return { expiresAt, hasRefreshToken, state: expiresAt.getTime() > now ? 'VALID' : expired };
}

/**
 * The status of an identity's token as Auth0 stored it at login. Auth0's `expires_in` comes
 * without an issue time, so the expiry is reckoned from when Auth0 last wrote the user (the later
 * of `last_login` and `updated_at`): an estimate.
 */
export function statusFromAuth0(
  identity: Pick<IdentityRecord, 'expiresIn'>,
  tokens: { hasAccessToken: boolean; hasRefreshToken: boolean },
  tokensStoredAt: string | null,
  now = Date.now(),
): TokenStatus {
  const known = identity.expiresIn !== null && tokensStoredAt !== null;
  return statusOf({ ...tokens, expiresAt: known ? Date.parse(tokensStoredAt) + identity.expiresIn! * 1000 : null }, now);
}

/** The status of tokens Auth0 holds (e.g. a connection's admin tokens). */
export function statusOfAuth0Tokens(tokens: { accessToken?: string; refreshToken?: string; expiresAt: number | null }, now = Date.now()): TokenStatus {
  return statusOf({ hasAccessToken: Boolean(tokens.accessToken), hasRefreshToken: Boolean(tokens.refreshToken), expiresAt: tokens.expiresAt }, now);
}
