import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UpstreamResponse } from '../../http/upstream.js';
import { googleApi } from './api.js';

// googleApi.classify reads a non-2xx answer of Google's JSON APIs (userinfo, Calendar v3, Drive v3)
// into what ProviderApi does next: renew the token once (unauthorized), report a rate limit with a
// wait (rate_limited), null the field (not_found), blame the caller's arguments (bad_request) or
// report the provider as unavailable. The bodies are Google's real ones (docs/upstream-apis.md#google).

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

function response(status: number, body: unknown, headers: Record<string, string | undefined> = {}): UpstreamResponse {
  return { status, headers, body, durationMs: 87, attempts: 1 };
}

/** Google's error envelope, as its JSON APIs send it. */
function googleError(code: number, message: string, reason: string, status?: string, domain = 'global') {
  return { error: { code, message, errors: [{ domain, reason, message }], ...(status ? { status } : {}) } };
}

const classify = googleApi.classify;

describe('googleApi', () => {
  it('names the Auth0 strategy', () => {
    expect(googleApi.provider).toBe('google-oauth2');
  });
});

describe('googleApi.classify: refused tokens', () => {
  it('is unauthorized for "Invalid Credentials" (a bad or expired token)', () => {
    const answer = response(401, googleError(401, 'Invalid Credentials', 'authError', 'UNAUTHENTICATED'), {
      'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"',
    });
    expect(classify(answer)).toEqual({ kind: 'unauthorized' });
  });

  it('is unauthorized for "Login Required." and for userinfo’s OAuth-style 401', () => {
    expect(classify(response(401, googleError(401, 'Login Required.', 'required', 'UNAUTHENTICATED')))).toEqual({ kind: 'unauthorized' });
    expect(classify(response(401, { error: 'invalid_request', error_description: 'Invalid Credentials' }))).toEqual({ kind: 'unauthorized' });
  });

  it('is unauthorized for any 401, whatever the body', () => {
    for (const body of [undefined, null, '', 'Unauthorized', { unexpected: true }]) {
      expect(classify(response(401, body)), JSON.stringify(body)).toEqual({ kind: 'unauthorized' });
    }
  });
});

describe('googleApi.classify: rate limits', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is rate_limited for the 403 reasons Google uses for "slow down", suggesting 10 s', () => {
    for (const [reason, message] of [
      ['userRateLimitExceeded', 'User Rate Limit Exceeded'],
      ['rateLimitExceeded', 'Rate Limit Exceeded'],
      ['quotaExceeded', 'Calendar usage limits exceeded.'],
      ['dailyLimitExceeded', 'Daily Limit Exceeded'],
    ] as const) {
      const answer = response(403, googleError(403, message, reason, 'PERMISSION_DENIED', 'usageLimits'));
      expect(classify(answer), reason).toEqual({ kind: 'rate_limited', retryAfter: 10 });
    }
  });

  it('is rate_limited for a 429, with or without a body', () => {
    expect(classify(response(429, googleError(429, 'Rate Limit Exceeded', 'rateLimitExceeded', 'RESOURCE_EXHAUSTED', 'usageLimits')))).toEqual({
      kind: 'rate_limited',
      retryAfter: 10,
    });
    expect(classify(response(429, ''))).toEqual({ kind: 'rate_limited', retryAfter: 10 });
  });

  it('is rate_limited for status RESOURCE_EXHAUSTED even without a known reason', () => {
    const answer = response(403, { error: { code: 403, message: 'Quota exceeded for quota metric', status: 'RESOURCE_EXHAUSTED' } });
    expect(classify(answer)).toEqual({ kind: 'rate_limited', retryAfter: 10 });
  });

  it('finds a rate-limit reason that is not the first error', () => {
    const answer = response(403, {
      error: {
        code: 403,
        message: 'Rate Limit Exceeded',
        errors: [
          { domain: 'global', reason: 'forbidden', message: 'Forbidden' },
          { domain: 'usageLimits', reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' },
        ],
      },
    });
    expect(classify(answer)).toEqual({ kind: 'rate_limited', retryAfter: 10 });
  });

  it('takes a Retry-After, in seconds or as an HTTP date, when Google sends one', () => {
    const body = googleError(429, 'Rate Limit Exceeded', 'rateLimitExceeded', 'RESOURCE_EXHAUSTED', 'usageLimits');
    expect(classify(response(429, body, { 'retry-after': '30' }))).toEqual({ kind: 'rate_limited', retryAfter: 30 });
    expect(classify(response(403, googleError(403, 'User Rate Limit Exceeded', 'userRateLimitExceeded'), { 'retry-after': '2.2' }))).toEqual({
      kind: 'rate_limited',
      retryAfter: 3,
    });
    expect(classify(response(429, body, { 'retry-after': new Date(NOW + 90_000).toUTCString() }))).toEqual({ kind: 'rate_limited', retryAfter: 90 });
  });

  it('suggests 10 s for a Retry-After that is zero, past or garbage', () => {
    const body = googleError(429, 'Rate Limit Exceeded', 'rateLimitExceeded');
    for (const retryAfter of ['0', new Date(NOW - 5000).toUTCString(), 'soon']) {
      expect(classify(response(429, body, { 'retry-after': retryAfter })), retryAfter).toEqual({ kind: 'rate_limited', retryAfter: 10 });
    }
  });
});

describe('googleApi.classify: other answers', () => {
  it('is not_found for a 404', () => {
    expect(classify(response(404, googleError(404, 'Not Found', 'notFound')))).toEqual({ kind: 'not_found' });
    expect(classify(response(404, googleError(404, 'File not found: 1a2b3c.', 'notFound')))).toEqual({ kind: 'not_found' });
    expect(classify(response(404, 'Not Found'))).toEqual({ kind: 'not_found' });
  });

  it('is bad_request for a 400, with Google’s message', () => {
    const orderBy = googleError(400, 'The requested ordering is not available for the particular query.', 'badRequest', 'INVALID_ARGUMENT');
    expect(classify(response(400, orderBy))).toEqual({ kind: 'bad_request', message: 'The requested ordering is not available for the particular query.' });
    const query = googleError(400, 'Invalid Value', 'invalid', 'INVALID_ARGUMENT');
    expect(classify(response(400, query))).toEqual({ kind: 'bad_request', message: 'Invalid Value' });
  });

  it('is bad_request with a generic message for a 400 without Google’s envelope', () => {
    for (const body of [undefined, '', 'Bad Request', { error: 'invalid_request' }]) {
      expect(classify(response(400, body)), JSON.stringify(body)).toEqual({ kind: 'bad_request', message: 'bad request' });
    }
  });

  // A 403 that is not a rate limit (a scope the grant lacks, a file the user may not read) is neither
  // renewed nor retried: it is reported, naming Google's reason.
  it('is unavailable, naming the reason, for a 403 that is not a rate limit', () => {
    const scopes = googleError(403, 'Request had insufficient authentication scopes.', 'insufficientPermissions', 'PERMISSION_DENIED');
    expect(classify(response(403, scopes))).toEqual({ kind: 'unavailable', detail: 'HTTP 403 (insufficientPermissions)' });
    expect(classify(response(403, googleError(403, 'The user does not have sufficient permissions for file', 'forbidden')))).toEqual({
      kind: 'unavailable',
      detail: 'HTTP 403 (forbidden)',
    });
  });

  it('is unavailable for 5xx, naming the reason when there is one', () => {
    expect(classify(response(500, googleError(500, 'Backend Error', 'backendError')))).toEqual({ kind: 'unavailable', detail: 'HTTP 500 (backendError)' });
    expect(classify(response(503, googleError(503, 'The service is currently unavailable.', 'backendError', 'UNAVAILABLE')))).toEqual({
      kind: 'unavailable',
      detail: 'HTTP 503 (backendError)',
    });
    expect(classify(response(502, '<html><body>502 Bad Gateway</body></html>'))).toEqual({ kind: 'unavailable', detail: 'HTTP 502' });
  });

  it('is unavailable for a redirect (never followed)', () => {
    expect(classify(response(302, '', { location: 'https://evil.example/' }))).toEqual({ kind: 'unavailable', detail: 'HTTP 302' });
  });

  it('never throws on odd bodies', () => {
    for (const body of [undefined, null, 42, 'text', [], { error: null }, { error: { errors: null } }, { error: { errors: [{}] } }]) {
      for (const status of [400, 403, 404, 429, 500]) {
        expect(() => classify(response(status, body)), `${status} ${JSON.stringify(body)}`).not.toThrow();
      }
    }
  });
});

describe('googleApi.classify: malformed bodies', () => {
  it('classifies instead of throwing when the envelope is not what Google sends', () => {
    for (const body of [{ error: { errors: {} } }, { error: { errors: [null] } }, { error: 'x' }, 'x', [null], null]) {
      const failure = googleApi.classify({ status: 400, headers: {}, body, durationMs: 1, attempts: 1 });
      expect(failure).toEqual({ kind: 'bad_request', message: 'bad request' });
    }
  });
});
