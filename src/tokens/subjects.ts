import type { ConnectionDirectory } from '../auth0/connections.js';
import type { Auth0Connection } from '../auth0/types.js';
import type { IdentityTokens } from '../auth0/user-record.js';
import type { UserDirectory } from '../auth0/users.js';
import type { TokenSubject } from './broker.js';
import type { Auth0Tokens } from './record.js';

/** The identity a token belongs to. */
export interface IdentityRef {
  userId: string;
  provider: string;
  connection: string;
  identityUserId: string;
}

/** The broker key of an identity's tokens. */
export function identitySubjectKey(ref: Pick<IdentityRef, 'userId' | 'connection' | 'identityUserId'>): string {
  return `identity\u0000${ref.userId}\u0000${ref.connection}\u0000${ref.identityUserId}`;
}

/** The key of an identity whose token comes from Auth0 Token Vault (apart from its identities[] key). */
export function vaultSubjectKey(ref: Pick<IdentityRef, 'userId' | 'connection' | 'identityUserId'>): string {
  return `vault\u0000${ref.userId}\u0000${ref.connection}\u0000${ref.identityUserId}`;
}

/**
 * Auth0's tokens of an identity with an estimated expiry: `expires_in` comes without an issue
 * time, so it is reckoned from when Auth0 last wrote the user (the later of last_login and
 * updated_at).
 */
export function auth0TokensOfIdentity(tokens: IdentityTokens): Auth0Tokens {
  const storedAt = tokens.tokensStoredAt ? Date.parse(tokens.tokensStoredAt) : Number.NaN;
  return {
    accessToken: tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: tokens.expiresIn !== undefined && !Number.isNaN(storedAt) ? storedAt + tokens.expiresIn * 1000 : null,
  };
}

/** An identity as a token subject; reading Auth0 means GET /users/{id} past the user cache. */
export function identitySubject(users: UserDirectory, ref: IdentityRef): TokenSubject {
  return {
    key: identitySubjectKey(ref),
    provider: ref.provider,
    connection: ref.connection,
    async readAuth0() {
      const fresh = await users.loadFreshWithTokens(ref.userId);
      const tokens = fresh?.tokens.find((t) => t.connection === ref.connection && t.identityUserId === ref.identityUserId);
      return tokens ? auth0TokensOfIdentity(tokens) : undefined;
    },
  };
}

/**
 * The admin tokens an enterprise connection holds (`options.admin_access_token`,
 * `admin_refresh_token`, and `admin_access_token_expiresin`, an ISO date, not seconds).
 */
export function adminTokensOf(connection: Auth0Connection): Auth0Tokens | undefined {
  const options = connection.options ?? {};
  const accessToken = typeof options.admin_access_token === 'string' ? options.admin_access_token : undefined;
  const refreshToken = typeof options.admin_refresh_token === 'string' ? options.admin_refresh_token : undefined;
  if (!accessToken && !refreshToken) return undefined;
  const expiry = typeof options.admin_access_token_expiresin === 'string' ? Date.parse(options.admin_access_token_expiresin) : Number.NaN;
  return { accessToken, refreshToken, expiresAt: Number.isNaN(expiry) ? null : expiry };
}

/** A connection's admin tokens as a token subject; reading Auth0 means reading the connection again. */
export function adminTokenSubject(connections: ConnectionDirectory, connection: Auth0Connection): TokenSubject {
  return {
    key: `connection\u0000${connection.id}`,
    provider: connection.strategy,
    connection: connection.name,
    async readAuth0() {
      const fresh = await connections.fresh(connection.name);
      return fresh ? adminTokensOf(fresh) : undefined;
    },
  };
}
