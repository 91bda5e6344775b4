import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManagementTokenProvider } from './management-token.js';
import type { UpstreamClient, UpstreamRequest } from '../http/upstream.js';
import { createLogger, type Logger } from '../logger.js';
import { DistributedLock } from '../store/lock.js';
import { MemoryStore, type MemoryStoreOptions } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';
import { logSink } from '../testing/log-sink.js';

// The Management token is fetched once and kept, in memory and sealed in the shared store, until
// shortly before it expires; a token the Management API rejected is forgotten everywhere; and when
// the shared store fails, the gateway fetches a token of its own instead of failing the request.

const ORIGIN = 'https://tenant.example';
const STORE_KEY = 'auth0:management-token';
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const DAY_MS = 86_400_000;

/** Auth0's token endpoint: the n-th request gets `mgmt-token-n`, valid for `expiresIn` seconds. */
function tokenEndpoint(expiresIn = 86_400) {
  const requests: UpstreamRequest[] = [];
  const http = {
    send: async (request: UpstreamRequest) => {
      requests.push(request);
      return { status: 200, headers: {}, body: { access_token: `mgmt-token-${requests.length}`, expires_in: expiresIn }, durationMs: 1, attempts: 1 };
    },
  } as unknown as UpstreamClient;
  return { http, requests };
}

type StoreOperation = 'get' | 'set' | 'setIfAbsent' | 'delete' | 'deleteIfEquals';

/** An in-memory store whose operations can be made to fail, as a Redis outage would. */
class FlakyStore extends MemoryStore {
  readonly failing = new Set<StoreOperation>();

  constructor(options?: MemoryStoreOptions) {
    super(options);
  }

  failAll(): void {
    for (const operation of ['get', 'set', 'setIfAbsent', 'delete'] as const) this.failing.add(operation);
  }

  override async get(key: string): Promise<string | null> {
    this.check('get');
    return super.get(key);
  }

  override async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.check('set');
    return super.set(key, value, ttlMs);
  }

  override async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.check('setIfAbsent');
    return super.setIfAbsent(key, value, ttlMs);
  }

  override async delete(...keys: string[]): Promise<void> {
    this.check('delete');
    return super.delete(...keys);
  }

  override async deleteIfEquals(key: string, expected: string): Promise<boolean> {
    this.check('deleteIfEquals');
    return super.deleteIfEquals(key, expected);
  }

  private check(operation: StoreOperation): void {
    if (this.failing.has(operation)) throw new Error('connection refused');
  }
}

/** A gateway instance's provider on `store` (instances share the store and the sealing key). */
function instance(http: UpstreamClient, store: MemoryStore, sealer: Sealer, logger: Logger = createLogger('silent')) {
  return new ManagementTokenProvider({
    origin: ORIGIN,
    clientId: 'client',
    clientSecret: 'client-secret-value',
    http,
    store,
    sealer,
    lock: new DistributedLock(store),
    logger,
  });
}

const storeUnavailable = (lines: Record<string, unknown>[]) => lines.filter((line) => line.event === 'management_token_store_unavailable');

describe('ManagementTokenProvider keeping its token', () => {
  beforeEach(() => {
    // Only the wall clock is moved by hand: the store's own clock keeps real time, so an entry
    // stays in it while the token it holds runs out (as with another instance's clock, or skew).
    vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fetches a token with the client-credentials grant, as a request safe to retry, and logs it without the token', async () => {
    const { http, requests } = tokenEndpoint();
    const { lines, logger } = logSink();
    const provider = instance(http, new MemoryStore(), Sealer.ephemeral(), logger);
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: 'POST', url: `${ORIGIN}/oauth/token`, idempotent: true });
    expect(JSON.parse(requests[0]!.body!)).toMatchObject({ grant_type: 'client_credentials', client_id: 'client', audience: `${ORIGIN}/api/v2/` });
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 30, event: 'management_token_fetched', expiresIn: 86_400, msg: 'fetched a Management API token' }),
    );
    expect(JSON.stringify(lines)).not.toContain('mgmt-token-1');
    expect(JSON.stringify(lines)).not.toContain('client-secret-value');
  });

  it('reuses a day-long token until 60 s before it expires, then fetches a new one', async () => {
    const { http, requests } = tokenEndpoint(86_400);
    const provider = instance(http, new MemoryStore(), Sealer.ephemeral());
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    vi.setSystemTime(NOW + DAY_MS - 60_001);
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    expect(requests).toHaveLength(1);
    vi.setSystemTime(NOW + DAY_MS - 60_000);
    await expect(provider.token()).resolves.toBe('mgmt-token-2');
    expect(requests).toHaveLength(2);
  });

  it('renews a short-lived token a tenth of its lifetime early', async () => {
    const { http, requests } = tokenEndpoint(100);
    const provider = instance(http, new MemoryStore(), Sealer.ephemeral());
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    vi.setSystemTime(NOW + 89_999);
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    expect(requests).toHaveLength(1);
    vi.setSystemTime(NOW + 90_000);
    await expect(provider.token()).resolves.toBe('mgmt-token-2');
    expect(requests).toHaveLength(2);
  });

  it('shares the token with other instances, but not past its usable time even if the store still holds it', async () => {
    const { http, requests } = tokenEndpoint();
    const store = new MemoryStore();
    const sealer = Sealer.ephemeral();
    await expect(instance(http, store, sealer).token()).resolves.toBe('mgmt-token-1');
    await expect(instance(http, store, sealer).token()).resolves.toBe('mgmt-token-1');
    expect(requests).toHaveLength(1);
    vi.setSystemTime(NOW + DAY_MS - 60_000);
    await expect(instance(http, store, sealer).token()).resolves.toBe('mgmt-token-2');
    expect(requests).toHaveLength(2);
  });

  it('keeps the token in the store, sealed, only as long as it is usable', async () => {
    const { http } = tokenEndpoint();
    const store = new MemoryStore({ now: () => Date.now() });
    await instance(http, store, Sealer.ephemeral()).token();
    vi.setSystemTime(NOW + DAY_MS - 60_001);
    const stored = await store.get(STORE_KEY);
    expect(stored).not.toBeNull();
    expect(stored).not.toContain('mgmt-token-1');
    vi.setSystemTime(NOW + DAY_MS - 60_000 + 1);
    expect(await store.get(STORE_KEY)).toBeNull();
  });

  it('answers from memory without the shared store or Auth0 once it has a token', async () => {
    const { http, requests } = tokenEndpoint();
    const { lines, logger } = logSink();
    const store = new FlakyStore();
    const provider = instance(http, store, Sealer.ephemeral(), logger);
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    store.failAll();
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    expect(requests).toHaveLength(1);
    expect(storeUnavailable(lines)).toEqual([]);
  });

  it('forgets a token the Management API rejected, here and in the shared store', async () => {
    const { http, requests } = tokenEndpoint();
    const store = new MemoryStore();
    const sealer = Sealer.ephemeral();
    const provider = instance(http, store, sealer);
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    await provider.invalidate('mgmt-token-1');
    await expect(provider.token()).resolves.toBe('mgmt-token-2');
    await expect(instance(http, store, sealer).token()).resolves.toBe('mgmt-token-2');
    expect(requests).toHaveLength(2);
  });

  it('forgets the rejected token in the shared store for other instances', async () => {
    const { http, requests } = tokenEndpoint();
    const store = new MemoryStore();
    const sealer = Sealer.ephemeral();
    await expect(instance(http, store, sealer).token()).resolves.toBe('mgmt-token-1');
    // An instance that never held the token in memory learns from the API that it is dead.
    await instance(http, store, sealer).invalidate('mgmt-token-1');
    await expect(instance(http, store, sealer).token()).resolves.toBe('mgmt-token-2');
    expect(requests).toHaveLength(2);
  });

  it('keeps the current token when an older one is reported rejected', async () => {
    const { http, requests } = tokenEndpoint();
    const { lines, logger } = logSink();
    const store = new FlakyStore();
    const sealer = Sealer.ephemeral();
    const provider = instance(http, store, sealer, logger);
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    await provider.invalidate('mgmt-token-0');
    await expect(instance(http, store, sealer).token()).resolves.toBe('mgmt-token-1');
    // Still in memory: answered even while the store is down.
    store.failAll();
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    expect(requests).toHaveLength(1);
    expect(storeUnavailable(lines)).toEqual([]);
  });

  it('still forgets a rejected token when the store is down', async () => {
    const { http } = tokenEndpoint();
    const store = new FlakyStore();
    const provider = instance(http, store, Sealer.ephemeral());
    await expect(provider.token()).resolves.toBe('mgmt-token-1');
    store.failAll();
    await expect(provider.invalidate('mgmt-token-1')).resolves.toBeUndefined();
    await expect(provider.token()).resolves.toBe('mgmt-token-2');
  });
});

describe('ManagementTokenProvider when the shared store fails', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const warning = {
    level: 40,
    event: 'management_token_store_unavailable',
    msg: 'shared store unavailable; fetching the Management token locally',
    err: expect.objectContaining({ message: 'shared store failure: connection refused' }),
  };

  it('fetches a token of its own when the store is down, and warns naming the store’s error', async () => {
    const { http, requests } = tokenEndpoint();
    const { lines, logger } = logSink();
    const store = new FlakyStore();
    store.failAll();
    await expect(instance(http, store, Sealer.ephemeral(), logger).token()).resolves.toBe('mgmt-token-1');
    expect(requests).toHaveLength(1);
    expect(storeUnavailable(lines)).toEqual([expect.objectContaining(warning)]);
  });

  it('fetches a token of its own when the store cannot be read', async () => {
    const { http } = tokenEndpoint();
    const { lines, logger } = logSink();
    const store = new FlakyStore();
    store.failing.add('get');
    await expect(instance(http, store, Sealer.ephemeral(), logger).token()).resolves.toBe('mgmt-token-1');
    expect(storeUnavailable(lines)).toEqual([expect.objectContaining(warning)]);
  });

  it('fetches a token of its own when the fetch lock cannot be taken', async () => {
    const { http, requests } = tokenEndpoint();
    const { lines, logger } = logSink();
    const store = new FlakyStore();
    store.failing.add('setIfAbsent');
    await expect(instance(http, store, Sealer.ephemeral(), logger).token()).resolves.toBe('mgmt-token-1');
    expect(requests).toHaveLength(1);
    expect(storeUnavailable(lines)).toEqual([expect.objectContaining(warning)]);
  });

  it('still answers the token it fetched when it cannot be stored, fetches no second one, and warns', async () => {
    const { http, requests } = tokenEndpoint();
    const { lines, logger } = logSink();
    const store = new FlakyStore();
    store.failing.add('set');
    await expect(instance(http, store, Sealer.ephemeral(), logger).token()).resolves.toBe('mgmt-token-1');
    expect(requests).toHaveLength(1);
    expect(storeUnavailable(lines)).toEqual([expect.objectContaining({ ...warning, msg: 'shared store unavailable; keeping the Management token locally' })]);
  });

  it('still answers the token it fetched when the fetch lock cannot be released (the lease runs out by itself)', async () => {
    const { http, requests } = tokenEndpoint();
    const store = new FlakyStore();
    store.failing.add('deleteIfEquals');
    await expect(instance(http, store, Sealer.ephemeral()).token()).resolves.toBe('mgmt-token-1');
    expect(requests).toHaveLength(1);
  });
});
