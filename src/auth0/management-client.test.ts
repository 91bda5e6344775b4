import { afterEach, describe, expect, it, vi } from 'vitest';
import { auth0RateLimitWaitMs, rateWindow } from './management-client.js';

// The Management API limiter keeps AUTH0_MAX_REQUESTS_PER_SECOND in windows of about a tenth of a
// second, so a caller whose turn comes when a window is used up waits ~100 ms, not up to a second.

describe('rateWindow', () => {
  it.each([
    [2, 1, 500],
    [10, 1, 100],
    [25, 3, 120],
    [100, 10, 100],
  ])('%i/s: %i call(s) every %i ms', (perSecond, intervalCap, interval) => {
    expect(rateWindow(perSecond)).toEqual({ intervalCap, interval });
  });

  it('keeps the configured rate exactly', () => {
    for (const perSecond of [1, 3, 7, 10, 13, 50, 99, 100_000]) {
      const { intervalCap, interval } = rateWindow(perSecond);
      expect((intervalCap * 1000) / interval).toBeCloseTo(perSecond, 9);
      expect(interval).toBeLessThanOrEqual(1000);
    }
  });

  it('never allows a burst: at least one call per window, and windows of about a tenth of a second from 10/s up', () => {
    for (let perSecond = 1; perSecond <= 500; perSecond++) {
      const { intervalCap, interval } = rateWindow(perSecond);
      expect(Number.isInteger(intervalCap)).toBe(true);
      expect(intervalCap).toBeGreaterThanOrEqual(1);
      // Never more than the rate in any window (p-queue would otherwise burst past the tenant limit).
      expect(intervalCap).toBeLessThanOrEqual(Math.max(1, perSecond));
      if (perSecond >= 10) {
        expect(interval).toBeGreaterThanOrEqual(50);
        expect(interval).toBeLessThanOrEqual(150);
      }
    }
  });

  it('gives the Free plan (2/s) one call every half second, not two at once', () => {
    expect(rateWindow(2)).toEqual({ intervalCap: 1, interval: 500 });
  });
});

describe('auth0RateLimitWaitMs', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('waits what Retry-After asks, plus up to 20 % jitter', () => {
    const random = vi.spyOn(Math, 'random');
    random.mockReturnValue(0);
    expect(auth0RateLimitWaitMs({ headers: { 'retry-after': '3' } })).toBe(3000);
    random.mockReturnValue(0.5);
    expect(auth0RateLimitWaitMs({ headers: { 'retry-after': '3' } })).toBe(3300);
    random.mockReturnValue(0.999999);
    expect(auth0RateLimitWaitMs({ headers: { 'retry-after': '3' } })).toBe(3600);
  });

  it('never waits less than asked, nor more than 20 % longer', () => {
    for (let i = 0; i < 200; i++) {
      const wait = auth0RateLimitWaitMs({ headers: { 'retry-after': '2' } });
      expect(wait).toBeGreaterThanOrEqual(2000);
      expect(wait).toBeLessThanOrEqual(2400);
    }
  });

  it('falls back to the epoch-seconds x-ratelimit-reset, else one second', () => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1, 0, 0, 0) });
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const reset = String(Date.UTC(2030, 0, 1, 0, 0, 7) / 1000);
    expect(auth0RateLimitWaitMs({ headers: { 'x-ratelimit-reset': reset } })).toBe(7000);
    expect(auth0RateLimitWaitMs({ headers: {} })).toBe(1000);
  });
});
