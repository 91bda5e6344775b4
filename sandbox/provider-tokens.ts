import { randomBytes } from 'node:crypto';

/**
 * Token bookkeeping shared by the provider fakes. Every fake issues opaque random tokens and must
 * later tell a valid one from an expired, revoked or never-issued one, and (for rotation) know which
 * tokens descend from the same original grant; keeping that here once lets each fake spend its lines
 * on its provider's wire format instead.
 */

/** What a fake's `issueTokens` hands to a test or to the seed (the provider's token-response subset). */
export interface IssuedTokens {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
}

/** Options of `issueTokens`: lifetime in seconds (negative = already expired) and whether to add a refresh token. */
export interface IssueOptions {
  expiresIn?: number;
  refresh?: boolean;
}

/** One issued access token. */
export interface AccessRecord {
  accountId: string;
  /** Expiry, ms since epoch. */
  expiresAt: number;
  issuedAt: number;
  /** Rotation family (the refresh-token lineage that produced it), when there is one. */
  family: string;
  revoked: boolean;
}

/** One issued refresh token. */
export interface RefreshRecord {
  accountId: string;
  family: string;
  revoked: boolean;
  issuedAt: number;
  /** When it was first exchanged (rotation grace periods count from here). */
  firstUsedAt?: number;
}

/** The verdict on a presented access token; `missing` means no token was presented at all. */
export type AccessCheck =
  | { state: 'valid'; record: AccessRecord }
  | { state: 'expired'; record: AccessRecord }
  | { state: 'revoked'; record: AccessRecord }
  | { state: 'unknown' }
  | { state: 'missing' };

/** Random base64url text of `bytes` random bytes: unguessable, and safe in headers, forms and URLs. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** How a fake spells its tokens, so each provider's tokens are recognisable in logs and tests. */
export interface TokenMint {
  access(): string;
  refresh(): string;
}

/**
 * The tokens one fake has issued. Caution: tokens live only in memory and only as long as the fake,
 * which is the point: a test controls their whole life through the fake's methods.
 */
export class TokenBook {
  private readonly accessTokens = new Map<string, AccessRecord>();
  private readonly refreshTokens = new Map<string, RefreshRecord>();

  constructor(private readonly mint: TokenMint) {}

  /** Every access and refresh token ever issued (tests search logs and stores for them). */
  allTokens(): string[] {
    return [...this.accessTokens.keys(), ...this.refreshTokens.keys()];
  }

  /** Issues an access token (and optionally a refresh token) for an account, in a new or given family. */
  issue(accountId: string, expiresIn: number, withRefresh: boolean, family = randomToken(9)): IssuedTokens {
    const access_token = this.issueAccess(accountId, expiresIn, family);
    if (!withRefresh) return { access_token, expires_in: expiresIn };
    return { access_token, refresh_token: this.issueRefresh(accountId, family), expires_in: expiresIn };
  }

  /** Issues one access token living `expiresIn` seconds from now. */
  issueAccess(accountId: string, expiresIn: number, family = randomToken(9)): string {
    const token = this.mint.access();
    const now = Date.now();
    this.accessTokens.set(token, { accountId, expiresAt: now + expiresIn * 1000, issuedAt: now, family, revoked: false });
    return token;
  }

  /** Issues one refresh token in a family. */
  issueRefresh(accountId: string, family = randomToken(9)): string {
    const token = this.mint.refresh();
    this.refreshTokens.set(token, { accountId, family, revoked: false, issuedAt: Date.now() });
    return token;
  }

  /** Judges a presented access token. */
  checkAccess(token: string | undefined): AccessCheck {
    if (!token) return { state: 'missing' };
    const record = this.accessTokens.get(token);
    if (!record) return { state: 'unknown' };
    if (record.revoked) return { state: 'revoked', record };
    if (record.expiresAt <= Date.now()) return { state: 'expired', record };
    return { state: 'valid', record };
  }

  /** The record of a refresh token, or undefined when it was never issued here. */
  refreshRecord(token: string): RefreshRecord | undefined {
    return this.refreshTokens.get(token);
  }

  /** Makes every access token of an account expired as of now. */
  expireAccess(accountId: string): void {
    const now = Date.now();
    for (const record of this.accessTokens.values()) {
      if (record.accountId === accountId && record.expiresAt > now) record.expiresAt = now - 1;
    }
  }

  /** Revokes every access token of an account. */
  revokeAccess(accountId: string): void {
    for (const record of this.accessTokens.values()) if (record.accountId === accountId) record.revoked = true;
  }

  /** Revokes every refresh token of an account. */
  revokeRefresh(accountId: string): void {
    for (const record of this.refreshTokens.values()) if (record.accountId === accountId) record.revoked = true;
  }

  /** Revokes a whole rotation family: every refresh and access token descending from one grant. */
  revokeFamily(family: string): void {
    for (const record of this.refreshTokens.values()) if (record.family === family) record.revoked = true;
    for (const record of this.accessTokens.values()) if (record.family === family) record.revoked = true;
  }
}

/**
 * An answer computed now (the grant already took effect) but sent `delayMs` later: how a test
 * makes a client die after the provider rotated a refresh token and before it learned the new one.
 */
export async function answerAfter<T>(answer: T, delayMs: number): Promise<T> {
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  return answer;
}

/** Reads a positive integer query parameter, or the fallback when absent; NaN when present but malformed. */
export function intParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  return /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
}
