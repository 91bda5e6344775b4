import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { auth0RetryAfterSeconds, ManagementTokenProvider } from './management-token.js';
import type { UpstreamClient } from '../http/upstream.js';
import { withRequestStats } from '../http/request-stats.js';
import { createLogger } from '../logger.js';
import { DistributedLock } from '../store/lock.js';
import { MemoryStore } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';

// Auth0 answers a 429 with `Retry-After` (delta seconds) on some endpoints and with
// `x-ratelimit-reset` (an epoch-seconds timestamp) on the Management API. The result feeds
// PROVIDER_RATE_LIMITED's retryAfter and the queue pause, so it must be whole seconds and at least 1.

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

describe('auth0RetryAfterSeconds', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('takes Retry-After in seconds', () => {
    expect(auth0RetryAfterSeconds({ 'retry-after': '3' })).toBe(3);
    expect(auth0RetryAfterSeconds({ 'retry-after': '120' })).toBe(120);
  });

  it('rounds a fractional Retry-After up, never down to an earlier retry', () => {
    expect(auth0RetryAfterSeconds({ 'retry-after': '2.1' })).toBe(3);
    expect(auth0RetryAfterSeconds({ 'retry-after': '0.2' })).toBe(1);
  });

  it('takes Retry-After as an HTTP date', () => {
    const inTenSeconds = new Date(NOW + 10_000).toUTCString();
    expect(auth0RetryAfterSeconds({ 'retry-after': inTenSeconds })).toBe(10);
  });

  it('prefers Retry-After over x-ratelimit-reset', () => {
    const reset = String(NOW / 1000 + 30);
    expect(auth0RetryAfterSeconds({ 'retry-after': '4', 'x-ratelimit-reset': reset })).toBe(4);
  });

  it('reads x-ratelimit-reset as an epoch-seconds timestamp, not as a duration', () => {
    expect(auth0RetryAfterSeconds({ 'x-ratelimit-reset': String(NOW / 1000 + 12) })).toBe(12);
  });

  it('rounds the time to the reset up', () => {
    vi.setSystemTime(NOW + 500);
    expect(auth0RetryAfterSeconds({ 'x-ratelimit-reset': String(NOW / 1000 + 10) })).toBe(10);
    vi.setSystemTime(NOW + 1);
    expect(auth0RetryAfterSeconds({ 'x-ratelimit-reset': String(NOW / 1000 + 10) })).toBe(10);
  });

  it('falls back to x-ratelimit-reset when Retry-After is zero, past, negative or garbage', () => {
    const reset = String(NOW / 1000 + 6);
    for (const retryAfter of ['0', '-5', new Date(NOW - 60_000).toUTCString(), 'soon', '']) {
      expect(auth0RetryAfterSeconds({ 'retry-after': retryAfter, 'x-ratelimit-reset': reset })).toBe(6);
    }
  });

  it('answers at least one second for a reset that has passed or a small number that is no timestamp', () => {
    expect(auth0RetryAfterSeconds({ 'x-ratelimit-reset': String(NOW / 1000 - 30) })).toBe(1);
    expect(auth0RetryAfterSeconds({ 'x-ratelimit-reset': String(NOW / 1000) })).toBe(1);
    expect(auth0RetryAfterSeconds({ 'x-ratelimit-reset': '5' })).toBe(1);
  });

  it('answers one second when neither header says anything usable', () => {
    expect(auth0RetryAfterSeconds({})).toBe(1);
    expect(auth0RetryAfterSeconds({ 'retry-after': undefined, 'x-ratelimit-reset': undefined })).toBe(1);
    expect(auth0RetryAfterSeconds({ 'x-ratelimit-reset': 'tomorrow' })).toBe(1);
    expect(auth0RetryAfterSeconds({ 'x-ratelimit-reset': '-100' })).toBe(1);
    expect(auth0RetryAfterSeconds({ 'x-ratelimit-reset': '0' })).toBe(1);
    // A reset "at infinity" is no time either: it must not pause the queue for ever.
    expect(auth0RetryAfterSeconds({ 'x-ratelimit-reset': 'Infinity' })).toBe(1);
  });

  it('always answers a whole number of seconds, at least 1', () => {
    const cases: Record<string, string | undefined>[] = [
      { 'retry-after': '0.001' },
      { 'retry-after': '1.5' },
      { 'retry-after': '-1' },
      { 'retry-after': 'NaN' },
      { 'retry-after': 'Infinity' },
      { 'x-ratelimit-reset': String(NOW / 1000 + 0.25) },
      { 'x-ratelimit-reset': 'Infinity' },
    ];
    for (const headers of cases) {
      const seconds = auth0RetryAfterSeconds(headers);
      expect(Number.isInteger(seconds), JSON.stringify(headers)).toBe(true);
      expect(seconds, JSON.stringify(headers)).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('ManagementTokenProvider waiting for another instance', () => {
  /** A provider on an in-memory store whose lock another instance holds, answering tokens from a stub. */
  function providerWithForeignLock(requestTimeoutMs: number) {
    const store = new MemoryStore();
    const fetches: number[] = [];
    const http = {
      send: async () => {
        fetches.push(Date.now());
        return { status: 200, headers: {}, body: { access_token: 'mgmt-token', expires_in: 86_400 } };
      },
    } as unknown as UpstreamClient;
    const provider = new ManagementTokenProvider({
      origin: 'https://tenant.example',
      clientId: 'client',
      clientSecret: 'secret',
      http,
      store,
      sealer: Sealer.ephemeral(),
      lock: new DistributedLock(store),
      logger: createLogger('silent'),
      requestTimeoutMs,
    });
    return { store, provider, fetches };
  }

  it('waits for the other instance only until the request’s deadline, then fetches its own token', async () => {
    const { store, provider, fetches } = providerWithForeignLock(300);
    // Another instance holds the fetch lock for 20 s and never stores a token (it hangs or died).
    await store.setIfAbsent('lock:auth0:management-token', 'another-instance', 20_000);
    const started = Date.now();
    await expect(withRequestStats(() => provider.token())).resolves.toBe('mgmt-token');
    expect(fetches).toHaveLength(1);
    expect(fetches[0]! - started).toBeLessThan(2_000);
    await store.close();
  });
});
