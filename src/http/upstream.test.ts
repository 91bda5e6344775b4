import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isRateLimited, retryAfterMs } from './upstream.js';

// retryAfterMs reads a standard Retry-After header (RFC 9110 §10.2.3: delta-seconds or an
// HTTP-date) into milliseconds. UpstreamClient waits that long before retrying a 429 (when it fits
// the retry budget), so it must never be negative and must not mistake garbage for a wait.

const NOW = Date.UTC(2030, 5, 15, 8, 30, 0);

describe('retryAfterMs', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads delta seconds as milliseconds', () => {
    expect(retryAfterMs({ 'retry-after': '0' })).toBe(0);
    expect(retryAfterMs({ 'retry-after': '1' })).toBe(1000);
    expect(retryAfterMs({ 'retry-after': '120' })).toBe(120_000);
    expect(retryAfterMs({ 'retry-after': '3600' })).toBe(3_600_000);
  });

  it('keeps fractional seconds (some providers send them)', () => {
    expect(retryAfterMs({ 'retry-after': '1.5' })).toBe(1500);
  });

  it('reads an HTTP date as the time left until then', () => {
    expect(retryAfterMs({ 'retry-after': new Date(NOW + 30_000).toUTCString() })).toBe(30_000);
    expect(retryAfterMs({ 'retry-after': 'Sat, 15 Jun 2030 08:32:00 GMT' })).toBe(120_000);
  });

  it('answers 0 for an HTTP date in the past: retry now, never a negative wait', () => {
    expect(retryAfterMs({ 'retry-after': new Date(NOW - 30_000).toUTCString() })).toBe(0);
    expect(retryAfterMs({ 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' })).toBe(0);
  });

  it('never answers a negative wait for negative seconds', () => {
    for (const value of ['-1', '-3600', '-0.5']) {
      const wait = retryAfterMs({ 'retry-after': value });
      // Negative delta-seconds are invalid; ignoring them (undefined) or retrying now (0) are both safe.
      expect([0, undefined]).toContain(wait);
    }
  });

  it('answers undefined when there is no header or it is empty', () => {
    expect(retryAfterMs({})).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': undefined })).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': '' })).toBeUndefined();
  });

  it('answers undefined for garbage rather than inventing a wait', () => {
    for (const value of ['soon', 'later, please', 'NaN', 'Infinity', '-Infinity', '10 seconds', '1s', 'tomorrow']) {
      expect(retryAfterMs({ 'retry-after': value }), value).toBeUndefined();
    }
  });

  it('reads the lower-case header name (UpstreamClient lower-cases every header)', () => {
    expect(retryAfterMs({ 'Retry-After': '5' })).toBeUndefined();
    expect(retryAfterMs({ 'retry-after': '5', 'Retry-After': '9' })).toBe(5000);
  });

  it('does not confuse other rate-limit headers with Retry-After', () => {
    expect(retryAfterMs({ 'x-ratelimit-reset': String(NOW / 1000 + 60) })).toBeUndefined();
  });
});

describe('isRateLimited', () => {
  it('is a 429, or a 403 naming a Retry-After (GitHub secondary rate limits)', () => {
    expect(isRateLimited({ status: 429, headers: {} })).toBe(true);
    expect(isRateLimited({ status: 403, headers: { 'retry-after': '60' } })).toBe(true);
    expect(isRateLimited({ status: 403, headers: {} })).toBe(false);
    expect(isRateLimited({ status: 503, headers: { 'retry-after': '60' } })).toBe(false);
    expect(isRateLimited({ status: 200, headers: { 'retry-after': '60' } })).toBe(false);
  });
});
