import { ConfigurationError, ProviderRateLimitedError, UpstreamUnavailableError } from '../errors.js';
import { retryAfterMs, type UpstreamClient } from '../http/upstream.js';
import type { RefreshEndpoint } from './policy.js';

/** What a refresh grant came back with. */
export type RefreshOutcome =
  | { kind: 'renewed'; accessToken: string; refreshToken?: string; expiresIn?: number }
  /** The provider refused the refresh token itself: it is dead unless Auth0 holds a newer one. */
  | { kind: 'rejected'; error: string };

// Errors that mean the grant is dead (the user must consent again), per RFC 6749 §5.2, Microsoft's
// interaction errors and GitHub's `bad_refresh_token` (a refresh token that is wrong, expired or
// already used). Anything about the client is the gateway's configuration (GitHub:
// `incorrect_client_credentials`).
const GRANT_ERRORS = new Set(['invalid_grant', 'interaction_required', 'consent_required', 'login_required', 'bad_refresh_token']);
const CLIENT_ERRORS = new Set(['invalid_client', 'unauthorized_client', 'unsupported_grant_type', 'incorrect_client_credentials']);

/**
 * Sends one refresh-token grant. It is never retried: with rotating refresh tokens a grant whose
 * answer was lost may already have consumed the token, and a blind second try could trip the
 * provider's reuse detection. Failures that are not about the grant throw the contract's errors.
 * An answer carrying `error` is a refusal whatever its status: GitHub refuses with HTTP 200.
 */
export async function sendRefreshGrant(http: UpstreamClient, provider: string, endpoint: RefreshEndpoint, refreshToken: string): Promise<RefreshOutcome> {
  if (!endpoint.clientId || !endpoint.clientSecret) {
    throw new ConfigurationError(provider, 'no client id and secret to refresh tokens with (set them in the environment or on the Auth0 connection)');
  }
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (endpoint.clientAuth === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(endpoint.clientId)}:${encodeURIComponent(endpoint.clientSecret)}`).toString('base64')}`;
  } else {
    form.set('client_id', endpoint.clientId);
    form.set('client_secret', endpoint.clientSecret);
  }
  const response = await http.send({ method: 'POST', url: endpoint.tokenUrl, headers, body: form.toString(), idempotent: false });
  const body = answerFields(response.body, response.headers['content-type']);
  if (response.status === 200 && typeof body.access_token === 'string' && !body.error) {
    return {
      kind: 'renewed',
      accessToken: body.access_token,
      refreshToken: typeof body.refresh_token === 'string' && body.refresh_token ? body.refresh_token : undefined,
      expiresIn: typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in) || undefined,
    };
  }
  const error = typeof body.error === 'string' ? body.error : '';
  if (GRANT_ERRORS.has(error)) return { kind: 'rejected', error };
  if (CLIENT_ERRORS.has(error)) throw new ConfigurationError(provider, `the token endpoint refused the gateway's client (${error})`);
  if (response.status === 429) throw new ProviderRateLimitedError(provider, Math.max(1, Math.ceil((retryAfterMs(response.headers) ?? 1000) / 1000)));
  throw new UpstreamUnavailableError(provider, `the token endpoint answered HTTP ${response.status}${error ? ` (${error})` : ''}`);
}

/**
 * The fields of a token endpoint's answer: JSON, or form-encoded (GitHub answers so when the
 * request's Accept header is not honoured); anything else has none.
 */
function answerFields(body: unknown, contentType: string | undefined): Record<string, unknown> {
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as Record<string, unknown>;
  if (typeof body === 'string' && contentType?.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(body));
  return {};
}
