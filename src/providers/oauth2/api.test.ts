import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UpstreamResponse } from '../../http/upstream.js';
import { oauth2Api } from './api.js';

// oauth2Api.classify reads the answers of whatever API sits behind a custom OAuth 2.0 connection.
// Only RFC 6750 is common ground (docs/upstream-apis.md#generic-oauth2): 401 with
// `WWW-Authenticate: Bearer error="invalid_token"` for a refused token, 403 `insufficient_scope`
// (renewing cannot add a scope: the caller's request is refused), 400 `invalid_request`. Redirects
// are not followed and, like 5xx, are "unavailable". Upstream text is kept short.

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

function response(status: number, body: unknown, headers: Record<string, string | undefined> = {}): UpstreamResponse {
  return { status, headers, body, durationMs: 33, attempts: 1 };
}

const classify = oauth2Api.classify;

describe('oauth2Api', () => {
  it('names the Auth0 strategy and caps answers at 1 MiB', () => {
    expect(oauth2Api.provider).toBe('oauth2');
    expect(oauth2Api.maxBodyBytes).toBe(1024 * 1024);
  });
});

describe('oauth2Api.classify', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is unauthorized for an RFC 6750 invalid_token, and for any 401', () => {
    const challenge = 'Bearer realm="example", error="invalid_token", error_description="The access token expired"';
    expect(classify(response(401, '', { 'www-authenticate': challenge }))).toEqual({ kind: 'unauthorized' });
    expect(classify(response(401, { error: 'invalid_token' }))).toEqual({ kind: 'unauthorized' });
    expect(classify(response(401, '', { 'www-authenticate': 'Bearer realm="example"' }))).toEqual({ kind: 'unauthorized' });
    expect(classify(response(401, undefined))).toEqual({ kind: 'unauthorized' });
  });

  it('is bad_request for a 403 insufficient_scope from the Bearer challenge (renewing cannot add a scope)', () => {
    const challenge =
      'Bearer realm="example", error="insufficient_scope", error_description="The request requires higher privileges than provided by the access token", scope="items:read items:write"';
    expect(classify(response(403, '', { 'www-authenticate': challenge }))).toEqual({
      kind: 'bad_request',
      message: 'access denied (HTTP 403: insufficient_scope: The request requires higher privileges than provided by the access token)',
    });
  });

  it('is bad_request for a 403 insufficient_scope in the body, the body winning over the challenge', () => {
    expect(classify(response(403, { error: 'insufficient_scope', error_description: 'Needs items:write' }))).toEqual({
      kind: 'bad_request',
      message: 'access denied (HTTP 403: insufficient_scope: Needs items:write)',
    });
    expect(
      classify(response(403, { error: 'forbidden', error_description: 'Not your item' }, { 'www-authenticate': 'Bearer error="insufficient_scope"' })),
    ).toEqual({ kind: 'bad_request', message: 'access denied (HTTP 403: forbidden: Not your item)' });
  });

  it('is bad_request for a 403 that says nothing', () => {
    expect(classify(response(403, ''))).toEqual({ kind: 'bad_request', message: 'access denied (HTTP 403)' });
    expect(classify(response(403, '', { 'www-authenticate': 'Basic realm="example"' }))).toEqual({ kind: 'bad_request', message: 'access denied (HTTP 403)' });
  });

  it('reads the Bearer challenge case-insensitively, in any parameter order, first value winning', () => {
    const failure = classify(
      response(403, '', { 'www-authenticate': 'bearer error_description="Needs more", ERROR="insufficient_scope", error="ignored", scope="a b"' }),
    );
    expect(failure).toEqual({ kind: 'bad_request', message: 'access denied (HTTP 403: insufficient_scope: Needs more)' });
  });

  it('ignores a challenge of another scheme', () => {
    expect(classify(response(400, '', { 'www-authenticate': 'Basic error="invalid_request"' }))).toEqual({ kind: 'bad_request', message: 'HTTP 400' });
  });

  it('is bad_request for other 4xx, with `error: error_description`, else `message`, else the status', () => {
    expect(classify(response(400, { error: 'invalid_request', error_description: 'Unknown parameter: colour' }))).toEqual({
      kind: 'bad_request',
      message: 'invalid_request: Unknown parameter: colour',
    });
    expect(classify(response(400, '', { 'www-authenticate': 'Bearer error="invalid_request", error_description="Missing parameter: id"' }))).toEqual({
      kind: 'bad_request',
      message: 'invalid_request: Missing parameter: id',
    });
    expect(classify(response(422, { message: 'Validation Failed' }))).toEqual({ kind: 'bad_request', message: 'Validation Failed' });
    expect(classify(response(400, { error: '  invalid_request  ' }))).toEqual({ kind: 'bad_request', message: 'invalid_request' });
    expect(classify(response(405, 'Method Not Allowed'))).toEqual({ kind: 'bad_request', message: 'HTTP 405' });
    expect(classify(response(400, { error: { code: 400 }, message: 42 }))).toEqual({ kind: 'bad_request', message: 'HTTP 400' });
  });

  it('shortens long upstream text to 200 characters', () => {
    const failure = classify(response(400, { error: 'invalid_request', error_description: 'x'.repeat(1000) }));
    expect(failure).toEqual({ kind: 'bad_request', message: `invalid_request: ${'x'.repeat(200 - 'invalid_request: '.length)}…` });
  });

  it('is not_found for 404 and 410', () => {
    expect(classify(response(404, { error: 'not_found' }))).toEqual({ kind: 'not_found' });
    expect(classify(response(410, ''))).toEqual({ kind: 'not_found' });
  });

  it('is rate_limited for a 429, with its Retry-After or 60 s', () => {
    expect(classify(response(429, { error: 'rate_limited' }, { 'retry-after': '5' }))).toEqual({ kind: 'rate_limited', retryAfter: 5 });
    expect(classify(response(429, '', { 'retry-after': new Date(NOW + 300_000).toUTCString() }))).toEqual({ kind: 'rate_limited', retryAfter: 300 });
    expect(classify(response(429, ''))).toEqual({ kind: 'rate_limited', retryAfter: 60 });
  });

  it('is unavailable for redirects (never followed, their Location never named) and 5xx', () => {
    for (const status of [301, 302, 303, 307, 308]) {
      const failure = classify(response(status, '', { location: 'https://evil.example/collect' }));
      expect(failure, String(status)).toEqual({ kind: 'unavailable', detail: `HTTP ${status}` });
    }
    for (const status of [500, 502, 503, 504]) {
      expect(classify(response(status, { error: 'server_error', error_description: 'Database down' })), String(status)).toEqual({
        kind: 'unavailable',
        detail: `HTTP ${status}`,
      });
    }
  });

  it('never throws on odd bodies or headers', () => {
    for (const body of [undefined, null, 42, 'text', [], { error: null }, { error: ['x'] }]) {
      for (const status of [301, 400, 401, 403, 404, 429, 500]) {
        for (const challenge of [undefined, '', 'Bearer', 'Bearer error=', 'Bearer error="unterminated']) {
          expect(() => classify(response(status, body, { 'www-authenticate': challenge })), `${status} ${JSON.stringify(body)} ${challenge}`).not.toThrow();
        }
      }
    }
  });
});
