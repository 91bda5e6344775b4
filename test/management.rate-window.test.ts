import { describe, expect, it } from 'vitest';
import { rateWindow } from '../src/auth0/management-client.js';

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
});
