import type { UpstreamResponse } from '../../http/upstream.js';
import { retryAfterSeconds, upstreamText, type ProviderApiDefinition, type ProviderFailure } from '../api.js';

/** A GitHub error answer: REST-style `{message}` (401, secondary limits) or GraphQL-style `{errors: [{type, message}]}`. */
interface GitHubErrorBody {
  message?: unknown;
  errors?: unknown;
}

// Upstream text ends up in error messages: never let a token through.
const TOKEN_LIKE = /\bgh[opusr]_[A-Za-z0-9_]+/g;
// A limit that names no wait: GitHub's primary window is an hour, its secondary limits ask for about a minute.
const DEFAULT_RETRY_AFTER = 60;

/**
 * GitHub's GraphQL endpoint as HTTP sees it (docs/upstream-apis.md#github). A 401 "Bad credentials"
 * is a refused token (renewed once when it can be). A 403 or 429 is a rate limit when GitHub says
 * so: a `retry-after` header (a secondary limit), `x-ratelimit-remaining: 0` (the primary limit, reset
 * at `x-ratelimit-reset`, epoch seconds) or an error of type RATE_LIMITED; the wait is what GitHub
 * names. Anything else (another 403, 5xx, a proxy's page) is unavailable. GitHub's answers with HTTP
 * 200 (data, errors, partial data, RATE_LIMITED) are read by the GraphQL layer (viewer.ts).
 */
export const githubApi: ProviderApiDefinition = {
  provider: 'github',
  classify: (response: UpstreamResponse): ProviderFailure => {
    if (response.status === 401) return { kind: 'unauthorized' };
    const retryAfter = rateLimitWait(response.status, response.headers, response.body);
    if (retryAfter !== undefined) return { kind: 'rate_limited', retryAfter };
    const message = githubText((response.body as GitHubErrorBody | undefined)?.message) ?? firstErrorMessage(response.body);
    return { kind: 'unavailable', detail: `HTTP ${response.status}${message ? ` (${message})` : ''}` };
  },
};

/**
 * Seconds to wait when an answer says GitHub is limiting us, else undefined: a 403 or 429 with
 * `retry-after`, with `x-ratelimit-remaining: 0`, or with an error of type RATE_LIMITED; any 429.
 * A 200 carrying RATE_LIMITED is judged by the caller with `primaryLimitWait`.
 */
export function rateLimitWait(status: number, headers: Record<string, string | undefined>, body: unknown, now = Date.now()): number | undefined {
  if (status !== 403 && status !== 429) return undefined;
  if (headers['retry-after'] !== undefined) return retryAfterSeconds({ status, headers, body, durationMs: 0, attempts: 1 }, DEFAULT_RETRY_AFTER);
  if (headers['x-ratelimit-remaining'] === '0' || errorTypes(body).includes('RATE_LIMITED')) return primaryLimitWait(headers, now);
  return status === 429 ? DEFAULT_RETRY_AFTER : undefined;
}

/** Seconds until the primary limit resets (`x-ratelimit-reset`, epoch seconds), at least 1; 60 when GitHub does not say. */
export function primaryLimitWait(headers: Record<string, string | undefined>, now = Date.now()): number {
  const reset = Number(headers['x-ratelimit-reset']);
  if (!Number.isFinite(reset) || reset <= 0) return DEFAULT_RETRY_AFTER;
  return Math.max(1, Math.ceil(reset - now / 1000));
}

/** The `type` of every error of a GraphQL-style body (strings only). */
export function errorTypes(body: unknown): string[] {
  const errors = (body as GitHubErrorBody | undefined)?.errors;
  if (!Array.isArray(errors)) return [];
  return errors.flatMap((error: unknown) => {
    const type = (error as { type?: unknown } | null)?.type;
    return typeof type === 'string' ? [type] : [];
  });
}

/** Upstream text fit for an error message: a string, trimmed, shortened, anything token-like blanked. */
export function githubText(value: unknown): string | undefined {
  return upstreamText(typeof value === 'string' ? value.replace(TOKEN_LIKE, '[redacted]') : value);
}

function firstErrorMessage(body: unknown): string | undefined {
  const errors = (body as GitHubErrorBody | undefined)?.errors;
  return Array.isArray(errors) ? githubText((errors[0] as { message?: unknown } | null)?.message) : undefined;
}
