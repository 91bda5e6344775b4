import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DistributedLock } from './lock.js';
import { MemoryStore } from './memory.js';

// The renewal lock: a short lease kept alive by its holder's heartbeat, so a live holder keeps it
// as long as its work takes (within maxHoldMs) and a dead one loses it within one lease.

const stores: MemoryStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function lockOnMemory(): { lock: DistributedLock; store: MemoryStore } {
  const store = new MemoryStore();
  stores.push(store);
  return { lock: new DistributedLock(store), store };
}

describe('DistributedLock', () => {
  it("keeps a live holder's lock past its lease by the heartbeat, and frees it on release", async () => {
    const { lock } = lockOnMemory();
    const lease = await lock.acquire('k', { leaseMs: 150, maxHoldMs: 2_000 });
    expect(lease).toBeDefined();
    await sleep(500);
    expect(await lock.acquire('k', { leaseMs: 150, waitMs: 50 })).toBeUndefined();
    expect(lease!.held).toBe(true);
    await lease!.release();
    expect(await lock.acquire('k', { leaseMs: 150, waitMs: 50 })).toBeDefined();
  });

  it('frees the lock of a holder that stopped beating within one lease (a crashed holder)', async () => {
    const { lock, store } = lockOnMemory();
    await lock.acquire('k', { leaseMs: 150, maxHoldMs: 2_000 });
    // The holder dies: its heartbeat never reaches the store again.
    store.extendIfEquals = async () => false;
    const started = Date.now();
    const next = await lock.acquire('k', { leaseMs: 150, maxHoldMs: 2_000 });
    expect(next).toBeDefined();
    // One lease (150 ms) after its last beat, far short of the 2 s a live holder could keep it.
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('waits as long as a live holder may hold (maxHoldMs plus a lease), not less', async () => {
    const { lock } = lockOnMemory();
    const first = await lock.acquire('k', { leaseMs: 100, maxHoldMs: 400 });
    setTimeout(() => void first!.release(), 300);
    const started = Date.now();
    const second = await lock.acquire('k', { leaseMs: 100, maxHoldMs: 400 });
    expect(second).toBeDefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('stops beating after maxHoldMs, so a stuck holder cannot keep the lock forever', async () => {
    const { lock } = lockOnMemory();
    const stuck = await lock.acquire('k', { leaseMs: 100, maxHoldMs: 200 });
    // A holder that beat forever would keep the lock past any wait; this one stops at 200 ms and
    // its lease runs out 100 ms later, well inside the 5 s this waiter allows (no race with its end).
    const next = await lock.acquire('k', { leaseMs: 100, maxHoldMs: 200, waitMs: 5_000 });
    expect(next).toBeDefined();
    // The stuck holder's late release frees nothing of the new holder's.
    await stuck!.release();
    expect(await lock.acquire('k', { leaseMs: 100, waitMs: 30 })).toBeUndefined();
  });

  it('tells a holder whose lease ran out and was taken that it no longer holds the lock', async () => {
    const { lock, store } = lockOnMemory();
    const lease = await lock.acquire('k', { leaseMs: 90, maxHoldMs: 2_000 });
    // Someone else's value replaced ours (our lease had run out during a store blip).
    await store.set('k', 'someone-else', 10_000);
    await sleep(150);
    expect(lease!.held).toBe(false);
    await lease!.release();
    expect(await store.get('k')).toBe('someone-else');
  });
});

/** A memory store that counts lock traffic and can refuse or delay heartbeats, to watch the lock from the store's side. */
function watchedStore() {
  const store = new MemoryStore();
  stores.push(store);
  const calls = { setIfAbsent: 0, extend: 0 };
  const faults = { failNextExtends: 0, extendDelayMs: 0 };
  const setIfAbsent = store.setIfAbsent.bind(store);
  const extendIfEquals = store.extendIfEquals.bind(store);
  store.setIfAbsent = async (key, value, ttlMs) => {
    calls.setIfAbsent++;
    return setIfAbsent(key, value, ttlMs);
  };
  store.extendIfEquals = async (key, value, ttlMs) => {
    calls.extend++;
    if (faults.failNextExtends > 0) {
      faults.failNextExtends--;
      throw new Error('store blip');
    }
    const extended = await extendIfEquals(key, value, ttlMs);
    if (faults.extendDelayMs > 0) await sleep(faults.extendDelayMs);
    return extended;
  };
  return { store, lock: new DistributedLock(store), calls, faults };
}

describe('DistributedLock, seen from the store', () => {
  it('waits, by default, as long as a live holder may hold it: maxHoldMs plus one lease', async () => {
    const { lock } = watchedStore();
    const holder = await lock.acquire('k', { leaseMs: 200, maxHoldMs: 400 });
    setTimeout(() => void holder!.release(), 400);
    // 600 ms of patience by default; 200 ms (maxHoldMs minus a lease) would give up before the release.
    expect(await lock.acquire('k', { leaseMs: 200, maxHoldMs: 400 })).toBeDefined();
  });

  it('polls a held lock with a backoff capped at 200 ms: neither a busy loop nor a growing sleep', async () => {
    const { lock, calls } = watchedStore();
    const holder = await lock.acquire('k', { leaseMs: 5_000 });
    setTimeout(() => void holder!.release(), 1_200);
    calls.setIfAbsent = 0;
    const started = Date.now();
    expect(await lock.acquire('k', { leaseMs: 5_000, waitMs: 10_000 })).toBeDefined();
    // 10, 20, 40, 80, 160, then every 200 ms: about 10 attempts in 1.2 s. A busy loop makes hundreds;
    // a sleep that doubles past the cap makes 5 or fewer and notices the release late.
    expect(calls.setIfAbsent).toBeGreaterThanOrEqual(7);
    expect(calls.setIfAbsent).toBeLessThanOrEqual(20);
    expect(Date.now() - started).toBeLessThan(1_200 + 600);
  });

  it('beats every third of a lease, not every millisecond', async () => {
    const { lock, calls } = watchedStore();
    const holder = await lock.acquire('k', { leaseMs: 300, maxHoldMs: 5_000 });
    await sleep(650);
    await holder!.release();
    // About 6 beats in 650 ms (one per 100 ms).
    expect(calls.extend).toBeGreaterThanOrEqual(3);
    expect(calls.extend).toBeLessThanOrEqual(12);
  });

  it('stops beating one third of a lease before maxHoldMs, so the lock lives maxHoldMs plus at most one lease', async () => {
    const { lock, store } = watchedStore();
    await lock.acquire('k', { leaseMs: 600, maxHoldMs: 1_200 });
    // Beats at 200, 400, …, 1000 ms; the last renews the lease to 1600 ms.
    await sleep(1_200);
    expect(await store.get('k')).not.toBeNull();
    await sleep(600);
    expect(await store.get('k')).toBeNull();
  });

  it('keeps beating after a store blip: one failed heartbeat does not give the lock up', async () => {
    const { lock, store, faults } = watchedStore();
    faults.failNextExtends = 1;
    const holder = await lock.acquire('k', { leaseMs: 150, maxHoldMs: 5_000 });
    await sleep(600);
    expect(holder!.held).toBe(true);
    expect(await store.get('k')).not.toBeNull();
    await holder!.release();
  });

  it('sends no heartbeat once the lock is lost or released, even if a beat was under way', async () => {
    const lost = watchedStore();
    const losing = await lost.lock.acquire('k', { leaseMs: 150, maxHoldMs: 5_000 });
    await lost.store.set('k', 'someone-else', 10_000);
    await sleep(120);
    expect(losing!.held).toBe(false);
    const afterLoss = lost.calls.extend;
    await sleep(300);
    expect(lost.calls.extend).toBe(afterLoss);

    const released = watchedStore();
    released.faults.extendDelayMs = 60;
    const holder = await released.lock.acquire('k', { leaseMs: 150, maxHoldMs: 5_000 });
    // The first beat starts at 50 ms and answers at 110 ms; the release comes while it is under way.
    await sleep(70);
    await holder!.release();
    const atRelease = released.calls.extend;
    await sleep(300);
    expect(released.calls.extend).toBe(atRelease);
  });
});
