import { createHmac } from 'node:crypto';
import { ConfigurationError } from '../../errors.js';
import type { UpstreamResponse } from '../../http/upstream.js';
import type { PolicyDeps } from '../../tokens/policy.js';
import { retryAfterSeconds, type ProviderApiDefinition, type ProviderFailure } from '../api.js';

interface GraphErrorBody {
  error?: { message?: string; type?: string; code?: number; error_subcode?: number };
}

// Codes that mean "this access token is dead" (docs/upstream-apis.md#facebook): 190 with any subcode;
// Facebook's error-handling guide says to treat 102 ("API session") exactly like it.
const TOKEN_CODES = new Set([102, 190]);
// Throttling: app (4), user (17), page (32), per-API (613) and the business-use-case range.
const RATE_LIMIT_CODES = new Set([4, 17, 32, 613]);
const BUC_FIRST = 80000;
const BUC_LAST = 80014;
// Facebook says neither Retry-After nor when a user or app limit lifts; its counters roll hourly.
const DEFAULT_RETRY_AFTER_SECONDS = 60;
// User access tokens start with EAA; an error message that quotes one loses it before it reaches a caller.
const TOKEN_IN_TEXT = /EAA[A-Za-z0-9]{10,}/g;

/**
 * The Facebook Graph API and its error object `{"error":{"message","type","code","error_subcode"}}`,
 * which it sends with HTTP 400 whatever went wrong: the code, not the status, says what it is.
 * Requests are signed with `appsecret_proof` whenever the app secret is known (docs/upstream-apis.md#facebook).
 */
export const facebookApi: ProviderApiDefinition = {
  provider: 'facebook',
  classify: (response: UpstreamResponse): ProviderFailure => {
    const error = (response.body as GraphErrorBody | undefined)?.error;
    const message = typeof error?.message === 'string' ? error.message : undefined;
    const code = typeof error?.code === 'number' ? error.code : undefined;
    // Some proxies and older versions answer a dead token with 401; the code decides when present.
    if ((code !== undefined && TOKEN_CODES.has(code)) || (code === undefined && response.status === 401)) return { kind: 'unauthorized' };
    if (code !== undefined && (RATE_LIMIT_CODES.has(code) || (code >= BUC_FIRST && code <= BUC_LAST))) {
      return { kind: 'rate_limited', retryAfter: facebookRetryAfter(response) };
    }
    if (response.status === 429) return { kind: 'rate_limited', retryAfter: facebookRetryAfter(response) };
    if (response.status === 404) return { kind: 'not_found' };
    // A missing or wrong appsecret_proof (code 100) is the gateway's setup, not the caller's arguments.
    if (code === 100 && /appsecret_proof/i.test(message ?? '')) {
      return { kind: 'misconfigured', detail: 'Facebook refused the appsecret_proof (check FACEBOOK_APP_SECRET or the connection client_secret)' };
    }
    if (code === 100 && response.status >= 400 && response.status < 500) {
      return { kind: 'bad_request', message: (message ?? 'invalid parameter').replace(TOKEN_IN_TEXT, '[token]') };
    }
    return { kind: 'unavailable', detail: `HTTP ${response.status}${code !== undefined ? ` (code ${code})` : ''}` };
  },
  sign: async ({ url, accessToken, connection }, deps): Promise<void> => {
    const secret = await appSecret(deps, connection);
    if (secret) url.searchParams.set('appsecret_proof', appSecretProof(secret, accessToken));
  },
};

/** `appsecret_proof`: the hex HMAC-SHA256 of the access token, keyed by the app secret. */
export function appSecretProof(appSecret: string, accessToken: string): string {
  return createHmac('sha256', appSecret).update(accessToken).digest('hex');
}

/**
 * The app secret: the gateway's own FACEBOOK_APP_SECRET, else the Auth0 connection's
 * `client_secret` (cached by the connection directory). A tenant without that connection means no
 * secret is known and no proof is sent; Facebook then decides whether the app requires one. Any
 * other failure to read the connection propagates, since sending no proof could only fail later
 * with a misleading error.
 */
async function appSecret(deps: PolicyDeps, connection: string): Promise<string | undefined> {
  const configured = deps.config.providers.facebook.appSecret;
  if (configured) return configured;
  try {
    const secret = (await deps.connectionOptions(connection)).client_secret;
    return typeof secret === 'string' && secret ? secret : undefined;
  } catch (error) {
    if (error instanceof ConfigurationError) return undefined;
    throw error;
  }
}

/**
 * Seconds until Facebook lets us in again: a Retry-After if one came, else the longest
 * `estimated_time_to_regain_access` (minutes) of `X-Business-Use-Case-Usage`, else 60.
 */
function facebookRetryAfter(response: UpstreamResponse): number {
  const fromHeader = retryAfterSeconds(response, 0);
  if (fromHeader > 0) return fromHeader;
  const minutes = regainAccessMinutes(response.headers['x-business-use-case-usage']);
  return minutes > 0 ? minutes * 60 : DEFAULT_RETRY_AFTER_SECONDS;
}

/** The largest `estimated_time_to_regain_access` in a `{"<id>":[{...}]}` usage header; 0 when absent or unreadable. */
function regainAccessMinutes(header: string | undefined): number {
  if (!header) return 0;
  try {
    const usage = JSON.parse(header) as Record<string, { estimated_time_to_regain_access?: unknown }[] | undefined>;
    const minutes = Object.values(usage)
      .flatMap((entries) => (Array.isArray(entries) ? entries : []))
      .map((entry) => Number(entry.estimated_time_to_regain_access))
      .filter((value) => Number.isFinite(value) && value > 0);
    return minutes.length > 0 ? Math.ceil(Math.max(...minutes)) : 0;
  } catch {
    return 0;
  }
}
