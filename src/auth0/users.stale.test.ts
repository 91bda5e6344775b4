import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, UpstreamUnavailableError } from '../errors.js';
import { currentRequestStats, withRequestStats } from '../http/request-stats.js';
import { createLogger } from '../logger.js';
import { MemoryStore } from '../store/memory.js';
import type { ManagementClient } from './management-client.js';
import type { Auth0User } from './types.js';
import { UserDirectory } from './users.js';

// Stale if error: a user record past USER_CACHE_TTL_SECONDS but within USER_STALE_GRACE_SECONDS
// answers loadMany when Auth0 fails (unavailable, rate limited), marked in the request's stats and
// counted; it never answers while Auth0 works, past the grace, or for a failure that is not Auth0's.

const TTL_SECONDS = 30;
const GRACE_SECONDS = 300;
const ADA: Auth0User = { user_id: 'auth0|ada', email: 'ada@example.com', name: 'Ada', identities: [] };

function setup(graceSeconds = GRACE_SECONDS) {
  let failure: Error | undefined;
  let reads = 0;
  const client = {
    getUser: (id: string) => {
      reads += 1;
      if (failure) return Promise.reject(failure);
      return Promise.resolve(id === ADA.user_id ? { ...ADA, name: `Ada #${reads}` } : null);
    },
  } as unknown as ManagementClient;
  let staleServes = 0;
  const users = new UserDirectory({
    client,
    origin: 'https://acme.eu.auth0.com',
    store: new MemoryStore({ now: () => Date.now() }),
    ttlSeconds: TTL_SECONDS,
    staleGraceSeconds: graceSeconds,
    onStaleServe: () => (staleServes += 1),
    logger: createLogger('silent'),
  });
  return { users, fail: (error: Error | undefined) => (failure = error), reads: () => reads, staleServes: () => staleServes };
}

describe('UserDirectory stale if error', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1), toFake: ['Date', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks Auth0 once the record expired while Auth0 works', async () => {
    const { users, reads, staleServes } = setup();
    expect(await users.loadMany([ADA.user_id])).toMatchObject([{ name: 'Ada #1' }]);
    vi.advanceTimersByTime((TTL_SECONDS + 1) * 1000);
    expect(await users.loadMany([ADA.user_id])).toMatchObject([{ name: 'Ada #2' }]);
    expect(reads()).toBe(2);
    expect(staleServes()).toBe(0);
  });

  it('serves the expired record when Auth0 is unavailable, marked and counted', async () => {
    const { users, fail, staleServes } = setup();
    await users.loadMany([ADA.user_id]);
    vi.advanceTimersByTime((TTL_SECONDS + 10) * 1000);
    fail(new UpstreamUnavailableError('auth0', 'down'));
    const [answer, stats] = await withRequestStats(async () => [await users.loadMany([ADA.user_id]), currentRequestStats()] as const);
    expect(answer).toMatchObject([{ id: ADA.user_id, name: 'Ada #1' }]);
    expect(answer[0]).not.toHaveProperty('cachedAt');
    expect(stats.auth0).toMatchObject({ staleRecords: 1, staleAgeSeconds: TTL_SECONDS + 10 });
    expect(staleServes()).toBe(1);
  });

  it('does not serve past the grace, nor for a failure that is not an outage', async () => {
    const { users, fail } = setup();
    await users.loadMany([ADA.user_id]);
    vi.advanceTimersByTime((TTL_SECONDS + 10) * 1000);
    fail(new ConfigurationError('auth0', 'refused'));
    expect((await users.loadMany([ADA.user_id]))[0]).toBeInstanceOf(ConfigurationError);
    vi.advanceTimersByTime(GRACE_SECONDS * 1000);
    fail(new UpstreamUnavailableError('auth0', 'down'));
    expect((await users.loadMany([ADA.user_id]))[0]).toBeInstanceOf(UpstreamUnavailableError);
  });

  it('serves nothing stale with a grace of 0', async () => {
    const { users, fail } = setup(0);
    await users.loadMany([ADA.user_id]);
    vi.advanceTimersByTime((TTL_SECONDS + 1) * 1000);
    fail(new UpstreamUnavailableError('auth0', 'down'));
    expect((await users.loadMany([ADA.user_id]))[0]).toBeInstanceOf(UpstreamUnavailableError);
  });
});
