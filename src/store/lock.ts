import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SharedStore } from './store.js';

/** A held lock; release it exactly once. */
export interface Lease {
  /** Frees the lock if this holder still owns it. */
  release(): Promise<void>;
}

/** How long a lock is held at most and how long a caller waits for it. */
export interface LockOptions {
  /** The lock frees itself after this long, so a crashed holder cannot block everyone. */
  leaseMs: number;
  /** Give up waiting after this long. */
  waitMs: number;
}

/**
 * A lock across gateway instances on the shared store: SET NX with a random value and a lease,
 * released by compare-and-delete. It is deliberately simple (one Redis, no Redlock quorum):
 * callers re-read the state they protect after acquiring, so a lease that expires mid-work costs
 * at most one duplicate upstream call, never a wrong answer.
 */
export class DistributedLock {
  constructor(private readonly store: SharedStore) {}

  /** Waits for the lock; undefined when `waitMs` passed first. Store failures reject. */
  async acquire(key: string, { leaseMs, waitMs }: LockOptions): Promise<Lease | undefined> {
    const owner = randomUUID();
    const deadline = Date.now() + waitMs;
    let pause = 10;
    for (;;) {
      if (await this.store.setIfAbsent(key, owner, leaseMs)) {
        return { release: async () => void (await this.store.deleteIfEquals(key, owner)) };
      }
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, 200);
    }
  }
}

/**
 * Joins concurrent calls for the same key within this process onto one promise, so a burst of
 * requests causes one upstream call. The entry is dropped when the promise settles.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  /** Runs `work` unless a call for `key` is already running, whose result is shared instead. */
  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) return running;
    const promise = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }
}
