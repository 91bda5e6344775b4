import { describe, expect, it } from 'vitest';
import type { UpstreamResponse } from '../../http/upstream.js';
import { githubApi, githubText, primaryLimitWait, rateLimitWait } from './api.js';

// githubApi.classify reads the non-2xx answers of GitHub's GraphQL endpoint: 401 "Bad credentials"
// is a refused token; a 403 or 429 is a rate limit when GitHub says so (retry-after for secondary
// limits, x-ratelimit-remaining 0 or an error of type RATE_LIMITED for the primary one, waiting until
// x-ratelimit-reset, epoch seconds); everything else is unavailable.

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const RESET = String(NOW / 1000 + 1800);

function response(status: number, body: unknown, headers: Record<string, string | undefined> = {}): UpstreamResponse {
  return { status, headers, body, durationMs: 40, attempts: 1 };
}

const classify = githubApi.classify;

describe('githubApi.classify', () => {
  it('names the Auth0 strategy', () => {
    expect(githubApi.provider).toBe('github');
  });

  it('is unauthorized for 401 Bad credentials, whatever the body', () => {
    expect(classify(response(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/graphql' }))).toEqual({ kind: 'unauthorized' });
    expect(classify(response(401, ''))).toEqual({ kind: 'unauthorized' });
  });

  it('is rate_limited for a secondary limit, with its retry-after', () => {
    const body = { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' };
    expect(classify(response(403, body, { 'retry-after': '90' }))).toEqual({ kind: 'rate_limited', retryAfter: 90 });
    expect(classify(response(429, body, { 'retry-after': '30' }))).toEqual({ kind: 'rate_limited', retryAfter: 30 });
    expect(classify(response(429, body))).toEqual({ kind: 'rate_limited', retryAfter: 60 });
  });

  it('is rate_limited until the reset for the primary limit, by header or by error type', () => {
    expect(rateLimitWait(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': RESET }, {}, NOW)).toBe(1800);
    const limited = { errors: [{ type: 'RATE_LIMITED', message: 'API rate limit exceeded for user ID 1.' }] };
    expect(rateLimitWait(403, { 'x-ratelimit-reset': RESET }, limited, NOW)).toBe(1800);
    expect(rateLimitWait(403, { 'x-ratelimit-remaining': '0' }, {}, NOW)).toBe(60);
  });

  it('is unavailable for another 403, 5xx and odd answers, quoting GitHub briefly', () => {
    expect(classify(response(403, { message: 'Resource not accessible by integration' }, { 'x-ratelimit-remaining': '4999' }))).toEqual({
      kind: 'unavailable',
      detail: 'HTTP 403 (Resource not accessible by integration)',
    });
    expect(classify(response(502, '<html>Bad Gateway</html>'))).toEqual({ kind: 'unavailable', detail: 'HTTP 502' });
    expect(classify(response(400, { message: 'Problems parsing JSON' }))).toEqual({ kind: 'unavailable', detail: 'HTTP 400 (Problems parsing JSON)' });
    expect(classify(response(500, { errors: [{ message: 'Something went wrong' }] }))).toEqual({
      kind: 'unavailable',
      detail: 'HTTP 500 (Something went wrong)',
    });
    for (const body of [undefined, null, 42, [], { errors: 'x' }, { errors: [null] }]) {
      expect(() => classify(response(403, body)), JSON.stringify(body)).not.toThrow();
    }
  });
});

describe('primaryLimitWait', () => {
  it('counts seconds to x-ratelimit-reset, at least 1, 60 without one', () => {
    expect(primaryLimitWait({ 'x-ratelimit-reset': RESET }, NOW)).toBe(1800);
    expect(primaryLimitWait({ 'x-ratelimit-reset': String(NOW / 1000 - 5) }, NOW)).toBe(1);
    expect(primaryLimitWait({ 'x-ratelimit-reset': 'soon' }, NOW)).toBe(60);
    expect(primaryLimitWait({}, NOW)).toBe(60);
  });
});

describe('githubText', () => {
  it('trims, shortens and blanks anything token-like', () => {
    expect(githubText('  Bad credentials ')).toBe('Bad credentials');
    expect(githubText('x'.repeat(300))).toHaveLength(201);
    expect(
      githubText('saw gho_16C7e42F292c6912E7710c838347Ae178B4a and ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498'),
    ).toBe('saw [redacted] and [redacted]');
    expect(githubText(42)).toBeUndefined();
    expect(githubText('   ')).toBeUndefined();
  });
});
