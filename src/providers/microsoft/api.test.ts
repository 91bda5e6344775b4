import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UpstreamResponse } from '../../http/upstream.js';
import { graphInstant, microsoftApi } from './api.js';

// microsoftApi.classify reads Microsoft Graph's non-2xx answers (docs/upstream-apis.md#microsoft):
// 401 renews once, 429 and 503-with-Retry-After are rate limits, a 403 for a missing delegated
// permission is permission_denied (never a re-authentication), 404 nulls the field.

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const classify = microsoftApi.classify;

function response(status: number, body: unknown, headers: Record<string, string | undefined> = {}): UpstreamResponse {
  return { status, headers, body, durationMs: 40, attempts: 1 };
}

function graphError(code: string, message: string) {
  return { error: { code, message, innerError: { date: '2026-08-13T13:03:10', 'request-id': 'e6ea1bde', 'client-request-id': 'e6ea1bde' } } };
}

describe('microsoftApi', () => {
  it('names the waad strategy and asks Graph for times in UTC', () => {
    expect(microsoftApi.provider).toBe('waad');
    expect(microsoftApi.headers).toEqual({ prefer: 'outlook.timezone="UTC"' });
  });
});

describe('microsoftApi.classify', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is unauthorized for any 401 (InvalidAuthenticationToken, whatever the message)', () => {
    for (const message of [
      'Access token is empty.',
      'Lifetime validation failed, the token is expired.',
      'CompactToken parsing failed with error code: 80049217',
    ]) {
      expect(classify(response(401, graphError('InvalidAuthenticationToken', message)))).toEqual({ kind: 'unauthorized' });
    }
    expect(classify(response(401, ''))).toEqual({ kind: 'unauthorized' });
  });

  it('is rate_limited for a 429 with its Retry-After, 10 s without one', () => {
    expect(classify(response(429, graphError('TooManyRequests', 'Too many requests.'), { 'retry-after': '37' }))).toEqual({
      kind: 'rate_limited',
      retryAfter: 37,
    });
    expect(classify(response(429, graphError('activityLimitReached', 'throttled')))).toEqual({ kind: 'rate_limited', retryAfter: 10 });
  });

  it('is rate_limited for a 503 with Retry-After, unavailable without', () => {
    expect(classify(response(503, graphError('serviceNotAvailable', 'x'), { 'retry-after': '5' }))).toEqual({ kind: 'rate_limited', retryAfter: 5 });
    expect(classify(response(503, graphError('serviceNotAvailable', 'x')))).toEqual({ kind: 'unavailable', detail: 'HTTP 503 (serviceNotAvailable)' });
  });

  it('is permission_denied for ErrorAccessDenied and Authorization_RequestDenied, never unauthorized', () => {
    expect(classify(response(403, graphError('ErrorAccessDenied', 'Access is denied. Check credentials and try again.')))).toEqual({
      kind: 'permission_denied',
      detail: 'ErrorAccessDenied',
    });
    expect(classify(response(403, graphError('Authorization_RequestDenied', 'Insufficient privileges to complete the operation.')))).toEqual({
      kind: 'permission_denied',
      detail: 'Authorization_RequestDenied',
    });
  });

  it('is unavailable for any other 403', () => {
    expect(classify(response(403, graphError('Forbidden', 'no')))).toEqual({ kind: 'unavailable', detail: 'HTTP 403 (Forbidden)' });
    expect(classify(response(403, 'Forbidden'))).toEqual({ kind: 'unavailable', detail: 'HTTP 403' });
  });

  it('is not_found for a 404, bad_request with Graph’s message for a 400, unavailable otherwise', () => {
    expect(classify(response(404, graphError('itemNotFound', 'Item not found')))).toEqual({ kind: 'not_found' });
    expect(classify(response(400, graphError('BadRequest', "Could not find a property named 'x' on type 'microsoft.graph.message'.")))).toEqual({
      kind: 'bad_request',
      message: "Could not find a property named 'x' on type 'microsoft.graph.message'.",
    });
    expect(classify(response(400, 'bad'))).toEqual({ kind: 'bad_request', message: 'bad request' });
    expect(classify(response(500, graphError('generalException', 'x')))).toEqual({ kind: 'unavailable', detail: 'HTTP 500 (generalException)' });
    expect(classify(response(302, ''))).toEqual({ kind: 'unavailable', detail: 'HTTP 302' });
  });

  it('never throws on odd bodies', () => {
    for (const body of [undefined, null, 42, 'text', [], { error: null }, { error: { code: 7 } }, { error: 'x' }]) {
      for (const status of [400, 401, 403, 404, 429, 500, 503]) {
        expect(() => classify(response(status, body)), `${status} ${JSON.stringify(body)}`).not.toThrow();
      }
    }
  });
});

describe('graphInstant', () => {
  it('reads a UTC dateTimeTimeZone as an instant, keeping milliseconds', () => {
    expect(graphInstant({ dateTime: '2026-12-01T09:00:00.0000000', timeZone: 'UTC' })?.toISOString()).toBe('2026-12-01T09:00:00.000Z');
    expect(graphInstant({ dateTime: '2026-12-01T09:00:00.1234567', timeZone: 'UTC' })?.toISOString()).toBe('2026-12-01T09:00:00.123Z');
    expect(graphInstant({ dateTime: '2026-12-01T09:00:00', timeZone: 'Etc/UTC' })?.toISOString()).toBe('2026-12-01T09:00:00.000Z');
  });

  it('is null for another zone (never a guess) and for anything unreadable', () => {
    expect(graphInstant({ dateTime: '2026-12-01T09:00:00.0000000', timeZone: 'Pacific Standard Time' })).toBeNull();
    for (const time of [
      undefined,
      null,
      {},
      { dateTime: '2026-12-01', timeZone: 'UTC' },
      { dateTime: '2026-13-01T09:00:00', timeZone: 'UTC' },
      { dateTime: 5, timeZone: 'UTC' },
    ]) {
      expect(graphInstant(time as never), JSON.stringify(time)).toBeNull();
    }
  });
});
