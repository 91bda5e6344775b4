import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UpstreamUnavailableError } from '../errors.js';
import { MemoryStore } from '../store/memory.js';
import { ManagementClient } from './management-client.js';
import type { Auth0User } from './types.js';
import type { UserRecord } from './user-record.js';
import { UserDirectory, type UserDirectoryDeps } from './users.js';
import { logSink } from '../testing/log-sink.js';

// What a batch of users costs and what an operator sees: which ids each search carries (chunked by
// count and URL length), the GETs for the ids a search missed, the shared cache of records and of
// remembered misses (each switched off by a TTL of 0), and a store that fails: the answers still
// come from Auth0, and every degraded path leaves a log line.

const ORIGIN = 'https://acme.eu.auth0.com';

/** The log lines of one event. */
function events(lines: Record<string, unknown>[], event: string): Record<string, unknown>[] {
  return lines.filter((line) => line.event === event);
}

const PINO_DEBUG = 20;
const PINO_WARN = 40;

/** A tenant that knows some users, counts its calls and records the ids each search asked for. */
function fakeTenant() {
  const users = new Map<string, Auth0User>();
  /** Ids the (eventually consistent) search index does not return yet. */
  const unindexed = new Set<string>();
  const searches: string[][] = [];
  const gets: string[] = [];
  let searchFailure: Error | undefined;
  let getFailure: Error | undefined;
  const client = {
    getUser: (id: string) => {
      gets.push(id);
      if (getFailure) return Promise.reject(getFailure);
      return Promise.resolve(users.get(id) ?? null);
    },
    searchUsers: (query: string) => {
      const ids = [...query.matchAll(/"([^"]*)"/g)].map((match) => match[1]!);
      searches.push(ids);
      if (searchFailure) return Promise.reject(searchFailure);
      return Promise.resolve(ids.filter((id) => users.has(id) && !unindexed.has(id)).map((id) => users.get(id)!));
    },
    // The real path builder, so the URL lengths are the ones the gateway sends.
    searchPath: (query: string, perPage: number, fields?: string[]) => ManagementClient.prototype.searchPath.call(null, query, perPage, fields),
  } as unknown as ManagementClient;
  return {
    client,
    add: (id: string) => users.set(id, { user_id: id, email: `${id}@example.com`, name: id, identities: [] }),
    unindexed,
    searches,
    gets,
    failSearch: (error: Error | undefined) => (searchFailure = error),
    failGet: (error: Error | undefined) => (getFailure = error),
  };
}

type StoreOp = 'getMany' | 'setMany' | 'setIfAbsent' | 'delete';

/** A MemoryStore that counts the calls the directory makes and can fail any of them. */
class CountingStore extends MemoryStore {
  readonly calls: Record<StoreOp, number> = { getMany: 0, setMany: 0, setIfAbsent: 0, delete: 0 };
  readonly keysRead: string[][] = [];
  readonly failing = new Set<StoreOp>();

  private track(op: StoreOp): void {
    this.calls[op] += 1;
    if (this.failing.has(op)) throw new Error(`store ${op} refused`);
  }

  override async getMany(keys: string[]): Promise<(string | null)[]> {
    this.keysRead.push(keys);
    this.track('getMany');
    return super.getMany(keys);
  }

  override async setMany(entries: [string, string][], ttlMs: number): Promise<void> {
    this.track('setMany');
    return super.setMany(entries, ttlMs);
  }

  override async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.track('setIfAbsent');
    return super.setIfAbsent(key, value, ttlMs);
  }

  override async delete(...keys: string[]): Promise<void> {
    this.track('delete');
    return super.delete(...keys);
  }
}

function setup(options: Partial<Pick<UserDirectoryDeps, 'ttlSeconds' | 'missingTtlSeconds' | 'maxIdsPerSearch' | 'maxUrlLength'>> = {}) {
  const tenant = fakeTenant();
  const store = new CountingStore({ now: () => Date.now() });
  const { lines, logger } = logSink();
  const users = new UserDirectory({ client: tenant.client, origin: ORIGIN, store, ttlSeconds: 30, logger, ...options });
  return { tenant, store, lines, users };
}

/** The user ids of loadMany's answers; an Error stays itself, so a failure shows what went wrong. */
function idsOf(answers: (UserRecord | null | Error)[]): (string | null | Error)[] {
  return answers.map((answer) => (answer instanceof Error ? answer : (answer?.id ?? null)));
}

/** The URL a search for `ids` is sent to, as the directory measures it. */
function searchUrl(ids: string[]): string {
  const query = `user_id:(${ids.map((id) => `"${id}"`).join(' OR ')})`;
  return (
    ORIGIN +
    ManagementClient.prototype.searchPath.call(null, query, ids.length, ['user_id', 'email', 'name', 'picture', 'identities', 'last_login', 'updated_at'])
  );
}

describe('UserDirectory search chunks', () => {
  it('puts exactly maxIdsPerSearch ids in a search, and the next id in the next one', async () => {
    const { tenant, users } = setup({ maxIdsPerSearch: 3 });
    const ids = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];
    ids.forEach(tenant.add);
    expect(idsOf(await users.loadMany(ids))).toEqual(ids);
    expect(tenant.searches).toEqual([['u1', 'u2', 'u3'], ['u4', 'u5', 'u6'], ['u7']]);
    expect(tenant.gets).toEqual([]);
  });

  it('keeps ids together while the URL is exactly at the limit, and splits one character past it', async () => {
    const ids = ['u1', 'u2', 'u3'];
    const atLimit = setup({ maxUrlLength: searchUrl(['u1', 'u2']).length });
    ids.forEach(atLimit.tenant.add);
    await atLimit.users.loadMany(ids);
    expect(atLimit.tenant.searches).toEqual([['u1', 'u2'], ['u3']]);

    const belowLimit = setup({ maxUrlLength: searchUrl(['u1', 'u2']).length - 1 });
    ids.forEach(belowLimit.tenant.add);
    await belowLimit.users.loadMany(ids);
    expect(belowLimit.tenant.searches).toEqual([['u1'], ['u2'], ['u3']]);
  });

  it('sends an id whose search alone is longer than the limit in a search of its own, never an empty search', async () => {
    const long = `auth0|${'x'.repeat(200)}`;
    const { tenant, users } = setup({ maxUrlLength: searchUrl([long]).length - 1 });
    [long, 'u2'].forEach(tenant.add);
    expect(idsOf(await users.loadMany([long, 'u2']))).toEqual([long, 'u2']);
    expect(tenant.searches).toEqual([[long], ['u2']]);
  });
});

describe('UserDirectory search fallbacks', () => {
  it('reads the ids a search missed with one GET each, and says so at debug level', async () => {
    const { tenant, users, lines } = setup();
    ['u1', 'u2', 'u3'].forEach(tenant.add);
    tenant.unindexed.add('u2');
    expect(idsOf(await users.loadMany(['u1', 'u2', 'u3']))).toEqual(['u1', 'u2', 'u3']);
    expect(tenant.searches).toEqual([['u1', 'u2', 'u3']]);
    expect(tenant.gets).toEqual(['u2']);
    expect(events(lines, 'user_search_fallback')).toEqual([
      expect.objectContaining({ level: PINO_DEBUG, count: 1, msg: 'search missed users; reading them one by one' }),
    ]);
  });

  it('logs no fallback when the search found every id', async () => {
    const { tenant, users, lines } = setup();
    ['u1', 'u2'].forEach(tenant.add);
    await users.loadMany(['u1', 'u2']);
    expect(tenant.gets).toEqual([]);
    expect(events(lines, 'user_search_fallback')).toEqual([]);
  });

  it('reads every id of a failed search one by one and warns', async () => {
    const { tenant, users, lines } = setup();
    ['u1', 'u2'].forEach(tenant.add);
    tenant.failSearch(new UpstreamUnavailableError('auth0', 'search timed out'));
    expect(idsOf(await users.loadMany(['u1', 'u2']))).toEqual(['u1', 'u2']);
    expect(tenant.gets).toEqual(['u1', 'u2']);
    expect(events(lines, 'user_search_failed')).toEqual([
      expect.objectContaining({ level: PINO_WARN, count: 2, msg: 'Auth0 user search failed; reading the users one by one' }),
    ]);
  });
});

describe('UserDirectory caches switched by their TTLs', () => {
  it('reads the store for exactly the ids asked, and not again while they are hot', async () => {
    const { tenant, store, users } = setup();
    ['u1', 'u2'].forEach(tenant.add);
    await users.loadMany(['u1', 'u2']);
    expect(store.keysRead).toEqual([['user:{u1}', 'user:{u2}']]);
    await users.loadMany(['u1', 'u2']);
    await users.loadMany(['u1', 'u2']);
    // The second read found both in the store; the third answered from the hot copies.
    expect(store.keysRead).toEqual([
      ['user:{u1}', 'user:{u2}'],
      ['user:{u1}', 'user:{u2}'],
    ]);
    expect(tenant.searches).toHaveLength(1);
  });

  it('with both TTLs 0 neither reads nor writes the store, and asks Auth0 every time', async () => {
    const { tenant, store, users } = setup({ ttlSeconds: 0, missingTtlSeconds: 0 });
    tenant.add('u1');
    expect(await users.loadMany(['u1', 'nobody'])).toMatchObject([{ id: 'u1' }, null]);
    expect(await users.loadMany(['u1', 'nobody'])).toMatchObject([{ id: 'u1' }, null]);
    expect(await users.loadFresh('u1')).toMatchObject({ id: 'u1' });
    expect(store.calls).toEqual({ getMany: 0, setMany: 0, setIfAbsent: 0, delete: 0 });
    expect(store.size).toBe(0);
    expect(tenant.searches).toHaveLength(2);
    expect(tenant.gets).toEqual(['nobody', 'nobody', 'u1']);
  });

  it('with records cached but the missing memo off, asks Auth0 again for an unknown id and stores nothing for it', async () => {
    const { tenant, store, users } = setup({ ttlSeconds: 30, missingTtlSeconds: 0 });
    expect(await users.loadMany(['nobody'])).toEqual([null]);
    expect(await users.loadMany(['nobody'])).toEqual([null]);
    expect(tenant.gets).toEqual(['nobody', 'nobody']);
    expect(store.calls.setIfAbsent).toBe(0);
    expect(await store.get('user:{nobody}')).toBeNull();
  });

  it('with only the missing memo on, remembers unknown ids but caches no record', async () => {
    const { tenant, store, users } = setup({ ttlSeconds: 0, missingTtlSeconds: 5 });
    tenant.add('u1');
    expect(await users.loadMany(['u1', 'nobody', 'ghost'])).toMatchObject([{ id: 'u1' }, null, null]);
    expect(tenant.gets).toEqual(['nobody', 'ghost']);
    expect(await store.get('user:{u1}')).toBeNull();
    expect(store.calls.setMany).toBe(0);

    // The unknown ids are answered by the memo; the user is read again (records are not cached).
    expect(await users.loadMany(['u1', 'nobody', 'ghost'])).toMatchObject([{ id: 'u1' }, null, null]);
    expect(tenant.gets).toEqual(['nobody', 'ghost', 'u1']);
    expect(tenant.searches).toEqual([['u1', 'nobody', 'ghost']]);
  });

  it('with only the missing memo on, forgets a remembered miss as soon as a read finds the user', async () => {
    const { tenant, store, users } = setup({ ttlSeconds: 0, missingTtlSeconds: 60 });
    expect(await users.loadMany(['newcomer'])).toEqual([null]);
    expect(await store.get('user:{newcomer}')).toBe('null');
    tenant.add('newcomer');
    // A fresh read (e.g. after the account was created) finds the user and clears the memo.
    expect(await users.loadFresh('newcomer')).toMatchObject({ id: 'newcomer' });
    expect(await store.get('user:{newcomer}')).toBeNull();
    expect(await users.loadMany(['newcomer'])).toMatchObject([{ id: 'newcomer' }]);
  });

  it('with records not cached and the memo off, a found user costs no store delete', async () => {
    const { tenant, store, users } = setup({ ttlSeconds: 0, missingTtlSeconds: 0 });
    tenant.add('u1');
    await users.loadFresh('u1');
    expect(store.calls.delete).toBe(0);
  });
});

describe('UserDirectory with a failing store', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1), toFake: ['Date', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers from what this process read lately, else from Auth0, when the cache cannot be read', async () => {
    const { tenant, store, users, lines } = setup();
    ['u1', 'u2', 'u3'].forEach(tenant.add);
    await users.loadMany(['u1', 'u2']);
    const searchesBefore = tenant.searches.length;
    store.failing.add('getMany');
    // Past the hot copies' lifetime, so the shared cache is asked (and fails).
    vi.advanceTimersByTime(10_000);
    expect(idsOf(await users.loadMany(['u1', 'u2']))).toEqual(['u1', 'u2']);
    expect(tenant.searches.length).toBe(searchesBefore);
    expect(tenant.gets).toEqual([]);
    expect(idsOf(await users.loadMany(['u1', 'u3']))).toEqual(['u1', 'u3']);
    expect(tenant.gets).toEqual(['u3']);
    const warnings = events(lines, 'user_cache_read_failed');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ level: PINO_WARN, msg: 'user cache unavailable', err: { message: 'store getMany refused' } });
  });

  it('answers from Auth0 and warns when a record cannot be cached', async () => {
    const { tenant, store, users, lines } = setup();
    ['u1', 'u2'].forEach(tenant.add);
    store.failing.add('setMany');
    expect(idsOf(await users.loadMany(['u1', 'u2']))).toEqual(['u1', 'u2']);
    expect(store.calls.setMany).toBe(1);
    expect(events(lines, 'user_cache_write_failed')).toEqual([
      expect.objectContaining({ level: PINO_WARN, msg: 'user cache unavailable', err: expect.objectContaining({ message: 'store setMany refused' }) }),
    ]);
  });

  it('answers null and warns when a miss cannot be remembered', async () => {
    const { store, users, lines } = setup({ missingTtlSeconds: 5 });
    store.failing.add('setIfAbsent');
    expect(await users.loadMany(['nobody', 'ghost'])).toEqual([null, null]);
    expect(store.calls.setIfAbsent).toBe(2);
    expect(events(lines, 'user_cache_write_failed')).toEqual([
      expect.objectContaining({ level: PINO_WARN, msg: 'user cache unavailable', err: expect.objectContaining({ message: 'store setIfAbsent refused' }) }),
    ]);
  });

  it('answers the user and warns when a remembered miss cannot be cleared', async () => {
    const { tenant, store, users, lines } = setup({ ttlSeconds: 0, missingTtlSeconds: 5 });
    tenant.add('u1');
    store.failing.add('delete');
    expect(await users.loadFresh('u1')).toMatchObject({ id: 'u1' });
    expect(store.calls.delete).toBe(1);
    expect(events(lines, 'user_cache_write_failed')).toEqual([
      expect.objectContaining({ level: PINO_WARN, msg: 'user cache unavailable', err: expect.objectContaining({ message: 'store delete refused' }) }),
    ]);
  });
});

describe('UserDirectory stale answers in the log', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1), toFake: ['Date', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs each record served stale with its age and the failure it covered', async () => {
    const tenant = fakeTenant();
    tenant.add('u1');
    const { lines, logger } = logSink();
    const users = new UserDirectory({
      client: tenant.client,
      origin: ORIGIN,
      store: new MemoryStore({ now: () => Date.now() }),
      ttlSeconds: 30,
      staleGraceSeconds: 300,
      logger,
    });
    await users.loadMany(['u1']);
    vi.advanceTimersByTime(40_000);
    tenant.failGet(new UpstreamUnavailableError('auth0', 'down'));
    expect(await users.loadMany(['u1'])).toMatchObject([{ id: 'u1' }]);
    expect(events(lines, 'user_served_stale')).toEqual([
      expect.objectContaining({
        level: PINO_DEBUG,
        ageMs: 40_000,
        code: new UpstreamUnavailableError('auth0', 'down').code,
        msg: 'Auth0 failed; a cached user record past its lifetime answered',
      }),
    ]);
  });
});
