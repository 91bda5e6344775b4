import type { UpstreamResponse } from '../../http/upstream.js';
import { retryAfterSeconds, type ProviderApiDefinition, type ProviderFailure } from '../api.js';

interface GoogleErrorBody {
  error?: { code?: number; message?: string; status?: string; errors?: { reason?: string; message?: string }[] };
}

// Reasons Google uses for "slow down" (Calendar and Drive answer some of them with 403, not 429).
const RATE_LIMIT_REASONS = new Set(['userRateLimitExceeded', 'rateLimitExceeded', 'quotaExceeded', 'dailyLimitExceeded']);

/**
 * Google's JSON APIs (userinfo, Calendar v3, Drive v3) and their error envelope
 * `{"error":{"code","message","errors":[{"reason"}],"status"}}` (docs/upstream-apis.md#google).
 * Google documents backoff but no Retry-After, so a limit without one suggests 10 s.
 */
export const googleApi: ProviderApiDefinition = {
  provider: 'google-oauth2',
  classify: (response: UpstreamResponse): ProviderFailure => {
    // Bodies are read defensively: a proxy's or a truncated answer must still classify, not throw.
    const error = (response.body as GoogleErrorBody | undefined)?.error;
    const reasons = Array.isArray(error?.errors) ? error.errors.map((e) => (typeof e?.reason === 'string' ? e.reason : '')) : [];
    const message = typeof error?.message === 'string' ? error.message : undefined;
    if (response.status === 401) return { kind: 'unauthorized' };
    if (response.status === 429 || reasons.some((reason) => RATE_LIMIT_REASONS.has(reason)) || error?.status === 'RESOURCE_EXHAUSTED') {
      return { kind: 'rate_limited', retryAfter: retryAfterSeconds(response, 10) };
    }
    if (response.status === 404) return { kind: 'not_found' };
    if (response.status === 400) return { kind: 'bad_request', message: message ?? 'bad request' };
    return { kind: 'unavailable', detail: `HTTP ${response.status}${reasons[0] ? ` (${reasons[0]})` : ''}` };
  },
};
