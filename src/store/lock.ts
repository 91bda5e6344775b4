import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SharedStore } from './store.js';

/** A held lock; release it exactly once. */
export interface Lease {
  /** Frees the lock if this holder still owns it, and stops its heartbeat. */
  release(): Promise<void>;
  /** False once the heartbeat found the lock gone or taken (the lease ran out under this holder). */
  readonly held: boolean;
}

/** How long a lock lives without a heartbeat, how long a live holder may keep it, and the waiters' patience. */
export interface LockOptions {
  /**
   * The lock frees itself this long after it was taken or last renewed, so a crashed holder blocks
   * the others for about this long at most.
   */
  leaseMs: number;
  /**
   * With it, the holder renews the lease every third of `leaseMs` (a heartbeat) for this long: its
   * work must be bounded by it. Without it, the lease is never renewed.
   */
  maxHoldMs?: number;
  /** Give up waiting after this long; default `maxHoldMs + leaseMs`, as long as a live holder can hold the lock. */
  waitMs?: number;
}

/**
 * A lock across gateway instances on the shared store: SET NX with a random value and a lease,
 * released by compare-and-delete. With `maxHoldMs` the lease is short and renewed by a heartbeat
 * (compare-and-extend) while the holder lives: a holder that dies (SIGKILL, lost host) stops
 * renewing and the lock frees itself within one lease, instead of blocking everyone for the longest
 * work it might have done. It is deliberately simple (one Redis, no Redlock quorum): callers re-read
 * the state they protect after acquiring, so a lease that expires mid-work costs at most one
 * duplicate upstream call, never a wrong answer; work that must not be repeated blindly (spending a
 * rotating refresh token) leaves its own marker in the store.
 */
export class DistributedLock {
  constructor(private readonly store: SharedStore) {}

  /** Waits for the lock; undefined when `waitMs` passed first. Store failures reject. */
  async acquire(key: string, { leaseMs, maxHoldMs, waitMs = (maxHoldMs ?? 0) + leaseMs }: LockOptions): Promise<Lease | undefined> {
    const owner = randomUUID();
    const deadline = Date.now() + waitMs;
    let pause = 10;
    for (;;) {
      if (await this.store.setIfAbsent(key, owner, leaseMs)) return this.lease(key, owner, leaseMs, maxHoldMs ?? 0);
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, 200);
    }
  }

  /** A held lock, its lease extended every third of `leaseMs` until released or `maxHoldMs` passed. */
  private lease(key: string, owner: string, leaseMs: number, maxHoldMs: number): Lease {
    const stopAt = Date.now() + maxHoldMs;
    const state = { held: true, released: false, timer: undefined as NodeJS.Timeout | undefined };
    const schedule = (): void => {
      if (state.released || !state.held || Date.now() + leaseMs / 3 >= stopAt) return;
      state.timer = setTimeout(beat, Math.max(1, Math.floor(leaseMs / 3)));
      state.timer.unref();
    };
    const beat = (): void => {
      this.store.extendIfEquals(key, owner, leaseMs).then(
        (extended) => {
          if (!extended) state.held = false;
          schedule();
        },
        // A store blip: the next beat tries again while the lease still has a third to run.
        () => schedule(),
      );
    };
    schedule();
    return {
      get held() {
        return state.held;
      },
      release: async () => {
        state.released = true;
        clearTimeout(state.timer);
        await this.store.deleteIfEquals(key, owner);
      },
    };
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
