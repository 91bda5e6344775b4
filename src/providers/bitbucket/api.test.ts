import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UpstreamResponse } from '../../http/upstream.js';
import { bitbucketApi } from './api.js';

// bitbucketApi.classify reads Bitbucket Cloud's error envelope `{"type":"error","error":{"message",
// "detail"?,"data"?}}` (docs/upstream-apis.md#bitbucket). A 403 and a 404 both mean "not visible to
// this account" (the field is null); a 410 is an endpoint Atlassian withdrew (CHANGE-2770): not
// retryable, not the caller's fault; a 429 waits its Retry-After, else 60 s. Upstream text ends up
// in error messages, so it is trimmed and kept short.

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

function response(status: number, body: unknown, headers: Record<string, string | undefined> = {}): UpstreamResponse {
  return { status, headers, body, durationMs: 64, attempts: 1 };
}

/** Bitbucket's error envelope. */
function bitbucketError(message: string, extra: { detail?: unknown; data?: unknown } = {}) {
  return { type: 'error', error: { message, ...extra } };
}

const classify = bitbucketApi.classify;

describe('bitbucketApi', () => {
  it('names the Auth0 strategy', () => {
    expect(bitbucketApi.provider).toBe('bitbucket');
  });
});

describe('bitbucketApi.classify', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is unauthorized for a refused token, in the old and the new wording', () => {
    expect(classify(response(401, bitbucketError('Access token expired.')))).toEqual({ kind: 'unauthorized' });
    expect(classify(response(401, bitbucketError('Token is invalid, expired, or not supported for this endpoint.')))).toEqual({ kind: 'unauthorized' });
    expect(classify(response(401, ''))).toEqual({ kind: 'unauthorized' });
  });

  it('is rate_limited for a 429, suggesting 60 s without a Retry-After', () => {
    expect(classify(response(429, bitbucketError('Rate limit for this resource has been exceeded')))).toEqual({ kind: 'rate_limited', retryAfter: 60 });
    expect(classify(response(429, ''))).toEqual({ kind: 'rate_limited', retryAfter: 60 });
    expect(classify(response(429, '', { 'retry-after': '0' }))).toEqual({ kind: 'rate_limited', retryAfter: 60 });
    expect(classify(response(429, '', { 'retry-after': 'whenever' }))).toEqual({ kind: 'rate_limited', retryAfter: 60 });
  });

  it('takes the Retry-After of a 429, in seconds or as an HTTP date', () => {
    expect(classify(response(429, bitbucketError('Rate limit for this resource has been exceeded'), { 'retry-after': '120' }))).toEqual({
      kind: 'rate_limited',
      retryAfter: 120,
    });
    expect(classify(response(429, '', { 'retry-after': new Date(NOW + 45_000).toUTCString() }))).toEqual({ kind: 'rate_limited', retryAfter: 45 });
  });

  it('is not_found for a 403 and a 404 (not visible to this account)', () => {
    const hidden = bitbucketError(
      'You may not have access to this repository or it no longer exists in this workspace. If you think this repository exists and you have access, make sure you are authenticated.',
    );
    expect(classify(response(404, hidden))).toEqual({ kind: 'not_found' });
    expect(classify(response(404, bitbucketError("No workspace with identifier 'nobody'.")))).toEqual({ kind: 'not_found' });
    expect(
      classify(response(403, bitbucketError('Your credentials lack one or more required privilege scopes.', { detail: { granted: ['account'] } }))),
    ).toEqual({
      kind: 'not_found',
    });
    expect(classify(response(403, ''))).toEqual({ kind: 'not_found' });
  });

  it('is unavailable for a 410 Gone: an endpoint Atlassian withdrew, naming the announcement', () => {
    const gone = bitbucketError(
      'This API is no longer supported. For information about its removal, please refer to the deprecation notice at: https://developer.atlassian.com/cloud/bitbucket/changelog/#CHANGE-2770',
      { data: { announcement_url: 'https://developer.atlassian.com/cloud/bitbucket/changelog/#CHANGE-2770' } },
    );
    const failure = classify(response(410, gone));
    expect(failure.kind).toBe('unavailable');
    expect(failure).toMatchObject({
      detail: expect.stringMatching(/^the endpoint was withdrawn by Atlassian \(HTTP 410 Gone: This API is no longer supported\./),
    });
    expect(failure).toMatchObject({ detail: expect.stringContaining('; see https://developer.atlassian.com/cloud/bitbucket/changelog/#CHANGE-2770)') });
  });

  it('says "withdrawn" for a 410 even without the envelope', () => {
    expect(classify(response(410, ''))).toEqual({ kind: 'unavailable', detail: 'the endpoint was withdrawn by Atlassian (HTTP 410 Gone)' });
    expect(classify(response(410, { type: 'error', error: { data: { announcement_url: 'https://example.atlassian.com/change' } } }))).toEqual({
      kind: 'unavailable',
      detail: 'the endpoint was withdrawn by Atlassian (HTTP 410 Gone: see https://example.atlassian.com/change)',
    });
  });

  it('is bad_request for a 400, with the message and its detail', () => {
    expect(classify(response(400, bitbucketError('Invalid field name: full_nam', { detail: 'Unknown field "full_nam" in sort' })))).toEqual({
      kind: 'bad_request',
      message: 'Invalid field name: full_nam (Unknown field "full_nam" in sort)',
    });
    expect(classify(response(400, bitbucketError('Invalid query')))).toEqual({ kind: 'bad_request', message: 'Invalid query' });
    expect(classify(response(400, ''))).toEqual({ kind: 'bad_request', message: 'bad request' });
    expect(classify(response(400, { type: 'error', error: { detail: 'pagelen must be at most 100' } }))).toEqual({
      kind: 'bad_request',
      message: 'bad request (pagelen must be at most 100)',
    });
  });

  it('keeps only string text from the body, trimmed', () => {
    expect(classify(response(400, bitbucketError('  Invalid query  ', { detail: { fields: ['q'] } })))).toEqual({
      kind: 'bad_request',
      message: 'Invalid query',
    });
    expect(classify(response(400, { type: 'error', error: { message: 42, detail: '   ' } }))).toEqual({ kind: 'bad_request', message: 'bad request' });
    expect(classify(response(400, { type: 'error', error: 'Invalid query' }))).toEqual({ kind: 'bad_request', message: 'bad request' });
  });

  it('shortens long upstream text to 200 characters', () => {
    const failure = classify(response(400, bitbucketError('m'.repeat(500), { detail: 'd'.repeat(500) })));
    expect(failure).toEqual({ kind: 'bad_request', message: `${'m'.repeat(200)}… (${'d'.repeat(200)}…)` });
    const gone = classify(response(410, bitbucketError('g'.repeat(1000))));
    expect(gone).toEqual({ kind: 'unavailable', detail: `the endpoint was withdrawn by Atlassian (HTTP 410 Gone: ${'g'.repeat(200)}…)` });
  });

  it('is unavailable for 5xx and anything else, with the message when there is one', () => {
    expect(classify(response(500, bitbucketError('Something went wrong')))).toEqual({ kind: 'unavailable', detail: 'HTTP 500 (Something went wrong)' });
    expect(classify(response(502, '<html><body>Bad Gateway</body></html>'))).toEqual({ kind: 'unavailable', detail: 'HTTP 502' });
    expect(classify(response(503, ''))).toEqual({ kind: 'unavailable', detail: 'HTTP 503' });
    expect(classify(response(302, '', { location: 'https://id.atlassian.com/login' }))).toEqual({ kind: 'unavailable', detail: 'HTTP 302' });
    expect(classify(response(409, bitbucketError('Conflict')))).toEqual({ kind: 'unavailable', detail: 'HTTP 409 (Conflict)' });
  });

  it('never throws on odd bodies', () => {
    for (const body of [undefined, null, 42, 'text', [], { error: null }, { error: { data: null } }, { error: { message: ['a'] } }]) {
      for (const status of [400, 401, 403, 404, 410, 429, 500]) {
        expect(() => classify(response(status, body)), `${status} ${JSON.stringify(body)}`).not.toThrow();
      }
    }
  });
});
