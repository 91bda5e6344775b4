import { ConfigurationError, ProviderRateLimitedError, UpstreamUnavailableError } from '../errors.js';
import type { UpstreamClient, UpstreamResponse } from '../http/upstream.js';
import { auth0RetryAfterSeconds } from '../auth0/management-token.js';

/**
 * Auth0 Token Vault's access-token exchange (docs/upstream-apis.md#auth0-token-vault): the caller's
 * own Auth0 access token is exchanged, by a Custom API Client of the gateway's API, for the
 * provider access token Auth0 keeps for one of the caller's connections. Auth0 refreshes the
 * provider token itself; the gateway only asks again when the answer it holds runs out.
 */

/** The grant type of the exchange. */
export const TOKEN_VAULT_GRANT_TYPE = 'urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token';
/** The subject token is an Auth0 access token (the caller's own). */
export const SUBJECT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** What the exchange is asked for: the provider's access token. */
export const FEDERATED_TOKEN_TYPE = 'http://auth0.com/oauth/token-type/federated-connection-access-token';

/** What one exchange asks for. */
export interface VaultExchangeRequest {
  origin: string;
  clientId: string;
  clientSecret: string;
  /** The caller's Auth0 access token. */
  subjectToken: string;
  connection: string;
  /** The identity's user id at the provider, when the user has several accounts on one connection. */
  loginHint?: string;
}

/** What an exchange came back with. */
export type VaultExchangeOutcome =
  /** `expiresAt` in epoch ms; null when Auth0 said nothing about it. */
  | { kind: 'issued'; accessToken: string; expiresAt: number | null }
  /** Auth0 refused to hand out the token: the user must connect the account again. */
  | { kind: 'refused'; error: string };

// Errors about the gateway's own client: its configuration, never a reason to send the user round.
const CLIENT_ERRORS = new Set(['invalid_client', 'unauthorized_client', 'unsupported_grant_type']);
// Errors that mean the user's connected account cannot serve a token (documented and observed codes).
const ACCOUNT_ERRORS = new Set(['federated_connection_refresh_token_not_found', 'federated_connection_refresh_token_flow_failed', 'invalid_grant']);

/** The form body of an exchange (sent form-encoded, as the documented examples do). */
export function exchangeForm(request: VaultExchangeRequest): URLSearchParams {
  const form = new URLSearchParams({
    grant_type: TOKEN_VAULT_GRANT_TYPE,
    client_id: request.clientId,
    client_secret: request.clientSecret,
    subject_token: request.subjectToken,
    subject_token_type: SUBJECT_TOKEN_TYPE,
    requested_token_type: FEDERATED_TOKEN_TYPE,
    connection: request.connection,
  });
  if (request.loginHint) form.set('login_hint', request.loginHint);
  return form;
}

/**
 * Sends one exchange through Auth0's HTTP client (breakers, deadlines, metrics). Timeouts and 5xx
 * are retried by the client (an exchange changes nothing at Auth0, so a second one is harmless);
 * a 4xx never is. Returns the token or the refusal; throws the contract's errors for the rest.
 */
export async function sendVaultExchange(http: UpstreamClient, request: VaultExchangeRequest): Promise<VaultExchangeOutcome> {
  const response = await http.send({
    method: 'POST',
    url: `${request.origin}/oauth/token`,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: exchangeForm(request).toString(),
    idempotent: true,
  });
  return readExchangeAnswer(response);
}

/**
 * Reads Auth0's answer to an exchange. 200: the token and its expiry (`expires_at` in epoch
 * seconds; `expires_in` accepted too, since Auth0's pages show both). The client errors are
 * CONFIGURATION_ERROR; the account errors, and any other 401/403, a refusal; 429
 * PROVIDER_RATE_LIMITED (`auth0`); everything else UPSTREAM_UNAVAILABLE. Only Auth0's `error` code
 * is quoted, never its description.
 */
export function readExchangeAnswer(response: Pick<UpstreamResponse, 'status' | 'headers' | 'body'>, now = Date.now()): VaultExchangeOutcome {
  const body = (typeof response.body === 'object' && response.body !== null ? response.body : {}) as Record<string, unknown>;
  if (response.status === 200 && typeof body.access_token === 'string' && body.access_token) {
    return { kind: 'issued', accessToken: body.access_token, expiresAt: expiryOf(body, now) };
  }
  const error = typeof body.error === 'string' && /^[a-z][a-z0-9_]{0,79}$/i.test(body.error) ? body.error : '';
  if (CLIENT_ERRORS.has(error)) {
    throw new ConfigurationError(
      'auth0',
      `the Token Vault client was refused (${error}; check TOKEN_VAULT_CLIENT_ID/TOKEN_VAULT_CLIENT_SECRET and its Token Vault grant)`,
    );
  }
  if (ACCOUNT_ERRORS.has(error) || response.status === 401 || response.status === 403) return { kind: 'refused', error: error || `http_${response.status}` };
  if (response.status === 429) throw new ProviderRateLimitedError('auth0', auth0RetryAfterSeconds(response.headers));
  if (response.status === 200) throw new UpstreamUnavailableError('auth0', 'the Token Vault exchange answered without an access token');
  throw new UpstreamUnavailableError('auth0', `the Token Vault exchange answered HTTP ${response.status}${error ? ` (${error})` : ''}`);
}

/** Epoch ms from `expires_at` (epoch seconds) or `expires_in` (seconds from now); null when neither is a number. */
function expiryOf(body: Record<string, unknown>, now: number): number | null {
  // Number() makes an absent field NaN and null 0: neither is a time, and a null `expires_in` is
  // no expiry rather than "expires now".
  const at = Number(body.expires_at);
  if (Number.isFinite(at) && at > 0) return at * 1000;
  const within = body.expires_in === null ? Number.NaN : Number(body.expires_in);
  return Number.isFinite(within) ? now + within * 1000 : null;
}
