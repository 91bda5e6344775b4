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
