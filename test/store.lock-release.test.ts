import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { DistributedLock } from '../src/store/lock.js';
import { MemoryStore } from '../src/store/memory.js';
import { RedisClusterStore, type ClusterSeed } from '../src/store/redis-cluster.js';
import { RedisStore } from '../src/store/redis.js';
import type { SharedStore } from '../src/store/store.js';
import { clusterAvailable } from './helpers/harness.js';

// A lock is released only by its holder. A holder whose lease ran out (it stopped beating, or never
// had a heartbeat) may still call release() when its slow work ends; by then another holder may own
// the lock, and deleting that one's key would let a third caller in beside it: two renewals of one
// identity at once, the very thing the lock exists to prevent (a rotating refresh token spent twice).
// On every store the gateway runs on: the in-memory store, one Redis server and a Redis Cluster
// (skipped when this run has none).

const PREFIX = `test:store.lock-release:${randomUUID()}:`;

function clusterSeeds(): ClusterSeed[] {
  return inject('redisClusterNodes')
    .split(',')
    .map((seed) => ({ host: seed.slice(0, seed.lastIndexOf(':')), port: Number(seed.slice(seed.lastIndexOf(':') + 1)) }));
}

const STORES = [
  { name: 'the in-memory store', available: true, open: (): SharedStore => new MemoryStore() },
  { name: 'one Redis server', available: true, open: (): SharedStore => new RedisStore(inject('redisUrl'), PREFIX) },
  { name: 'a Redis Cluster', available: clusterAvailable(), open: (): SharedStore => new RedisClusterStore(clusterSeeds(), PREFIX) },
];

describe.each(STORES)('DistributedLock on $name', ({ available, open }) => {
  if (!available) {
    it.skip('needs a Redis Cluster (this run has none: see test/setup/redis.ts)', () => {});
    return;
  }

  const store = open();
  const lock = new DistributedLock(store);
  const keys: string[] = [];
  afterAll(async () => {
    if (keys.length > 0) await store.delete(...keys);
    await store.close();
  });

  /** A lock key of this test alone (hash-tagged, as the gateway's identity locks are). */
  function lockKey(): string {
    const key = `lock:token:{${randomUUID()}}`;
    keys.push(key);
    return key;
  }

  it("a holder whose lease ran out cannot release the next holder's lock; the next holder's own release frees it", async () => {
    const key = lockKey();
    // A: a short lease and no heartbeat, as a holder whose process stalled.
    const a = await lock.acquire(key, { leaseMs: 200 });
    expect(a).toBeDefined();
    const ownerA = await store.get(key);
    expect(ownerA).not.toBeNull();

    // B waits for A's lease to run out and takes the lock with a lease long enough for this test.
    const b = await lock.acquire(key, { leaseMs: 15_000, waitMs: 10_000 });
    expect(b).toBeDefined();
    const ownerB = await store.get(key);
    expect(ownerB).not.toBeNull();
    expect(ownerB).not.toBe(ownerA);

    // A's work ends late and it releases: B's lock must stay exactly as B took it.
    await a!.release();
    expect(await store.get(key)).toBe(ownerB);
    expect(await lock.acquire(key, { leaseMs: 1_000, waitMs: 300 })).toBeUndefined();
    expect(await store.get(key)).toBe(ownerB);

    // B's own release frees it for the next caller.
    await b!.release();
    expect(await store.get(key)).toBeNull();
    const c = await lock.acquire(key, { leaseMs: 1_000, waitMs: 300 });
    expect(c).toBeDefined();
    await c!.release();
    expect(await store.get(key)).toBeNull();
  });

  it("a holder's release after its lease ran out leaves the key alone when nobody holds it, and a release twice is harmless", async () => {
    const key = lockKey();
    const a = await lock.acquire(key, { leaseMs: 150 });
    const b = await lock.acquire(key, { leaseMs: 15_000, waitMs: 10_000 });
    expect(b).toBeDefined();
    const ownerB = await store.get(key);
    await a!.release();
    await a!.release();
    expect(await store.get(key)).toBe(ownerB);
    await b!.release();
    expect(await store.get(key)).toBeNull();
  });

  it('compare-and-delete: only the value that holds the key deletes it', async () => {
    const key = lockKey();
    expect(await store.setIfAbsent(key, 'owner-b', 15_000)).toBe(true);
    expect(await store.deleteIfEquals(key, 'owner-a')).toBe(false);
    expect(await store.get(key)).toBe('owner-b');
    expect(await store.deleteIfEquals(key, 'owner-b')).toBe(true);
    expect(await store.get(key)).toBeNull();
    expect(await store.deleteIfEquals(key, 'owner-b')).toBe(false);
  });
});
