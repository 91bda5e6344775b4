import { createHash } from 'node:crypto';

/**
 * What the gateway keeps about one provider token set (an identity's, or a connection's admin
 * tokens). It lives sealed in the token store; the `auth0` fingerprint remembers which pair Auth0
 * held when we last adopted from it, so a pair Auth0 holds later that differs means the user signed
 * in again, and a pair that matches means ours (refreshed since) is the newer one.
 */
export interface TokenRecord {
  accessToken: string | null;
  refreshToken: string | null;
  /** Epoch ms; null when unknown. */
  expiresAt: number | null;
  /** True when the expiry came from our own refresh; false for Auth0's advisory estimate. */
  exactExpiry: boolean;
  /** Fingerprint of the pair Auth0 held when we last adopted it. */
  auth0: string;
  /** Epoch ms of the last write; tells a re-read whether someone else renewed meanwhile. */
  updatedAt: number;
}

/** Tokens as Auth0 holds them (an identity's or a connection's admin tokens). */
export interface Auth0Tokens {
  accessToken?: string;
  refreshToken?: string;
  /** Epoch ms, estimated; null when unknown. */
  expiresAt: number | null;
}

// A token is used only while it has this much life left: an estimate gets a wider margin, since
// Auth0's `expires_in` may have started before the login time we reckon from.
const EXACT_MARGIN_MS = 60_000;
const ESTIMATE_MARGIN_MS = 5 * 60_000;

/** Whether the record's access token may be handed out now (unknown expiry counts as usable). */
export function isUsable(record: TokenRecord, now = Date.now()): boolean {
  if (!record.accessToken) return false;
  if (record.expiresAt === null) return true;
  return record.expiresAt - (record.exactExpiry ? EXACT_MARGIN_MS : ESTIMATE_MARGIN_MS) > now;
}

/** A stable, non-reversible fingerprint of the pair Auth0 holds; never the tokens themselves. */
export function fingerprint(tokens: Pick<Auth0Tokens, 'accessToken' | 'refreshToken'>): string {
  return createHash('sha256')
    .update(`${tokens.accessToken ?? ''}\u0000${tokens.refreshToken ?? ''}`)
    .digest('base64url')
    .slice(0, 22);
}

/** A fresh record adopted from what Auth0 holds. */
export function recordFromAuth0(tokens: Auth0Tokens, now = Date.now()): TokenRecord {
  return {
    accessToken: tokens.accessToken ?? null,
    refreshToken: tokens.refreshToken ?? null,
    expiresAt: tokens.expiresAt,
    exactExpiry: false,
    auth0: fingerprint(tokens),
    updatedAt: now,
  };
}
