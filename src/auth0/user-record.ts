import type { Auth0Identity, Auth0User } from './types.js';

/**
 * The gateway's own view of an Auth0 user: what the schema shows, with every secret removed. Only
 * this form is cached (in memory or Redis), so a cache can never leak a provider token. The
 * tokens themselves travel separately, as IdentityTokens, to whoever keeps them sealed.
 */
export interface UserRecord {
  id: string;
  email: string | null;
  name: string | null;
  picture: string | null;
  /** The later of `last_login` and `updated_at`: our best guess of when Auth0 stored the identity tokens. */
  tokensStoredAt: string | null;
  identities: IdentityRecord[];
}

/** One identity of a user, without secrets. */
export interface IdentityRecord {
  provider: string;
  connection: string;
  /** Always a string, even where Auth0 sends a number (GitHub). */
  userId: string;
  isSocial: boolean;
  /** Advisory lifetime (s) of the access token Auth0 stored at login; no issue time comes with it. */
  expiresIn: number | null;
  /** Whether Auth0 holds an access / refresh token; null when the source did not include token fields. */
  tokens: { hasAccessToken: boolean; hasRefreshToken: boolean } | null;
  profileData: Record<string, unknown> | null;
}

/** The secrets of one identity, exactly as Auth0 returned them. */
export interface IdentityTokens {
  userId: string;
  provider: string;
  connection: string;
  identityUserId: string;
  accessToken?: string;
  refreshToken?: string;
  expiresIn?: number;
  tokensStoredAt: string | null;
}

/**
 * Splits an Auth0 user into its secret-free record and the tokens it carried. `withTokens` says
 * whether the response could have contained token fields (GET /users/{id} with
 * read:user_idp_tokens does; search results may not), so absent fields mean "none" rather than
 * "unknown".
 */
export function toUserRecord(user: Auth0User, withTokens: boolean): { record: UserRecord; tokens: IdentityTokens[] } {
  const tokensStoredAt = latest(user.last_login, user.updated_at);
  const tokens: IdentityTokens[] = [];
  const identities = (user.identities ?? []).map((identity) => {
    const record = toIdentityRecord(identity, withTokens || hasTokenFields(identity));
    if (identity.access_token || identity.refresh_token) {
      tokens.push({
        userId: user.user_id,
        provider: record.provider,
        connection: record.connection,
        identityUserId: record.userId,
        accessToken: identity.access_token,
        refreshToken: identity.refresh_token,
        expiresIn: identity.expires_in,
        tokensStoredAt,
      });
    }
    return record;
  });
  return {
    record: {
      id: user.user_id,
      email: user.email ?? null,
      name: user.name ?? null,
      picture: user.picture ?? null,
      tokensStoredAt,
      identities,
    },
    tokens,
  };
}

function toIdentityRecord(identity: Auth0Identity, tokenFieldsKnown: boolean): IdentityRecord {
  return {
    provider: identity.provider,
    connection: identity.connection,
    userId: String(identity.user_id),
    isSocial: identity.isSocial ?? false,
    expiresIn: typeof identity.expires_in === 'number' ? identity.expires_in : null,
    tokens: tokenFieldsKnown ? { hasAccessToken: Boolean(identity.access_token), hasRefreshToken: Boolean(identity.refresh_token) } : null,
    profileData: identity.profileData ?? null,
  };
}

function hasTokenFields(identity: Auth0Identity): boolean {
  return 'access_token' in identity || 'refresh_token' in identity || 'access_token_secret' in identity;
}

function latest(...dates: (string | undefined)[]): string | null {
  const times = dates.map((date) => (date ? Date.parse(date) : Number.NaN)).filter((time) => !Number.isNaN(time));
  return times.length > 0 ? new Date(Math.max(...times)).toISOString() : null;
}
