import { randomBytes } from 'node:crypto';
import type { SimResponse } from './http.js';
import type { IssuedTokens } from './provider-tokens.js';

/**
 * The simulated tenant's Auth0 Token Vault (docs/upstream-apis.md#auth0-token-vault): the Custom
 * API Client allowed the access-token exchange, the connections Token Vault is enabled for (their
 * tokens no longer show in identities[]), the accounts users connected, and the exchange itself.
 * Auth0 keeps each connected account's provider token and refreshes it when it has expired; the
 * fake does so by asking the provider fake for a fresh one (`issue`).
 */

/** Builds an OAuth token-endpoint error body `{error, error_description, error_uri?}`. */
export function oauthError(status: number, error: string, description: string, uri?: string): SimResponse {
  return { status, body: { error, error_description: description, ...(uri ? { error_uri: uri } : {}) } };
}

const TOKEN_VAULT_GRANT = 'urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const FEDERATED_TOKEN_TYPE = 'http://auth0.com/oauth/token-type/federated-connection-access-token';

/** An account a user connected: Auth0 holds its provider token and renews it itself. */
interface ConnectedAccount {
  identityUserId: string;
  /** A fresh provider token, as the provider's refresh grant would give Auth0 (e.g. `google.issueTokens(sub)`). */
  issue: () => IssuedTokens;
  current?: { accessToken: string; expiresAt: number };
  /** The provider refuses Auth0's refresh (the user withdrew access): an expired token cannot be renewed. */
  refreshFails: boolean;
}

/** Token Vault of one fake tenant. */
export class FakeTokenVault {
  /** The Custom API Client allowed the exchange. */
  readonly client: { clientId: string; clientSecret: string };
  private readonly enabled = new Set<string>();
  private readonly accounts = new Map<string, ConnectedAccount[]>();
  /** Exchanges answered with a token, by user id and connection. */
  private readonly exchanges = new Map<string, number>();

  constructor(client: { clientId?: string; clientSecret?: string } = {}) {
    this.client = {
      clientId: client.clientId ?? 'sandbox-token-vault-client',
      clientSecret: client.clientSecret ?? randomBytes(32).toString('base64url'),
    };
  }

  /** Enables Token Vault for a connection. */
  enable(connection: string): void {
    this.enabled.add(connection);
  }

  /** Whether Token Vault holds the connection's tokens (so identities[] shows none). */
  isEnabled(connection: string): boolean {
    return this.enabled.has(connection);
  }

  /** Connects (or connects again, forgetting the token Auth0 held) a user's account on a connection. */
  connect(userId: string, connection: string, identityUserId: string, issue: () => IssuedTokens): void {
    const key = keyOf(userId, connection);
    const others = (this.accounts.get(key) ?? []).filter((account) => account.identityUserId !== identityUserId);
    this.accounts.set(key, [...others, { identityUserId, issue, refreshFails: false }]);
  }

  /** Forgets a user's connected accounts on a connection. */
  disconnect(userId: string, connection: string): void {
    this.accounts.delete(keyOf(userId, connection));
  }

  /** Makes Auth0's refresh of those accounts' provider tokens fail (dropping the tokens it holds), or work again. */
  failRefresh(userId: string, connection: string, fails: boolean): void {
    for (const account of this.accounts.get(keyOf(userId, connection)) ?? []) {
      account.refreshFails = fails;
      if (fails) account.current = undefined;
    }
  }

  /** Exchanges answered with a token for the user and connection. */
  exchangeCount(userId: string, connection: string): number {
    return this.exchanges.get(keyOf(userId, connection)) ?? 0;
  }

  /** Zeroes the exchange counts. */
  resetCounters(): void {
    this.exchanges.clear();
  }

  /**
   * POST /oauth/token by the Custom API Client: the Token Vault grant only; the subject token must
   * be the tenant's own access token for its API (`verifySubject` gives its `sub`); the user's
   * connected account for `connection` (and `login_hint`, when given) answers with its provider
   * token, renewed first when it has expired. Refusals carry the codes Auth0 sends.
   */
  async exchange(
    body: Record<string, string>,
    secret: string | undefined,
    verifySubject: (token: string) => Promise<string | undefined>,
    expiry: 'expires_at' | 'expires_in' = 'expires_at',
  ): Promise<SimResponse> {
    if (secret !== this.client.clientSecret) return oauthError(401, 'access_denied', 'Unauthorized');
    if (body.grant_type !== TOKEN_VAULT_GRANT) {
      const description = `Grant type '${body.grant_type}' not allowed for the client.`;
      return oauthError(403, 'unauthorized_client', description, 'https://auth0.com/docs/clients/client-grant-types');
    }
    for (const name of ['subject_token', 'subject_token_type', 'requested_token_type', 'connection']) {
      if (!body[name]) return oauthError(400, 'invalid_request', `Missing required parameter: ${name}`);
    }
    if (body.subject_token_type !== ACCESS_TOKEN_TYPE) return oauthError(400, 'invalid_request', 'Unsupported subject_token_type');
    if (body.requested_token_type !== FEDERATED_TOKEN_TYPE) return oauthError(400, 'invalid_request', 'Unsupported requested_token_type');
    const sub = await verifySubject(body.subject_token!);
    if (!sub) return oauthError(401, 'invalid_grant', 'Invalid subject token');
    const key = keyOf(sub, body.connection!);
    const account = (this.accounts.get(key) ?? []).find((candidate) => !body.login_hint || candidate.identityUserId === body.login_hint);
    if (!account) return oauthError(401, 'federated_connection_refresh_token_not_found', 'Federated connection Refresh Token not found.');
    const current = this.currentToken(account);
    if (!current) return oauthError(401, 'federated_connection_refresh_token_flow_failed', 'Failed to refresh the federated connection access token.');
    this.exchanges.set(key, (this.exchanges.get(key) ?? 0) + 1);
    const lifetime =
      expiry === 'expires_in' ? { expires_in: Math.floor((current.expiresAt - Date.now()) / 1000) } : { expires_at: Math.floor(current.expiresAt / 1000) };
    const answer = {
      access_token: current.accessToken,
      ...lifetime,
      scope: 'openid email profile',
      issued_token_type: FEDERATED_TOKEN_TYPE,
      token_type: 'Bearer',
    };
    return { status: 200, body: answer };
  }

  /** The account's provider token, renewed when it has expired; undefined when the renewal fails. */
  private currentToken(account: ConnectedAccount): { accessToken: string; expiresAt: number } | undefined {
    if (account.current && account.current.expiresAt > Date.now()) return account.current;
    if (account.refreshFails) return undefined;
    const issued = account.issue();
    account.current = { accessToken: issued.access_token, expiresAt: Date.now() + issued.expires_in * 1000 };
    return account.current;
  }
}

function keyOf(userId: string, connection: string): string {
  return `${userId}\u0000${connection}`;
}
