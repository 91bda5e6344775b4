import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';
import type { TokenRecord } from './record.js';
import { TokenStore } from './token-store.js';

// Write-back of unsaved records: a record the store did not take (a rotated refresh token during an
// outage) is written again every second until the store takes it, then no timer is left behind;
// stop() on shutdown ends the retries.

const SUBJECT = 'identity\u0000auth0|alice\u0000google-oauth2\u00001234';
const record = (refreshToken: string): TokenRecord => ({
  accessToken: 'access',
  refreshToken,
  expiresAt: Date.now() + 3_600_000,
  exactExpiry: true,
  auth0: 'fingerprint',
  updatedAt: Date.now(),
});

/** A memory store that refuses writes while down, and counts every write attempt. */
class FlakyStore extends MemoryStore {
  down = false;
  attempts = 0;
  override async set(key: string, value: string, ttlMs: number) {
    this.attempts += 1;
    if (this.down) throw new Error('redis is reconnecting');
    return super.set(key, value, ttlMs);
  }
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function setup() {
  const store = new FlakyStore();
  const sealer = Sealer.ephemeral();
  return { store, sealer, tokens: new TokenStore(store, sealer) };
}

describe('TokenStore write-back', () => {
  it('retries an unsaved record every second until the store recovers, then leaves no timer', async () => {
    const { store, sealer, tokens } = setup();
    store.down = true;
    tokens.keepUnsaved(SUBJECT, record('refresh-rotated'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.attempts).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.attempts).toBe(2);
    expect(tokens.unsavedCount).toBe(1);

    store.down = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(tokens.unsavedCount).toBe(0);
    // Another instance now reads the rotated refresh token from the store.
    expect((await new TokenStore(store, sealer).read(SUBJECT))?.refreshToken).toBe('refresh-rotated');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(store.attempts).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('tries each unsaved record once a second, however many are kept', async () => {
    const { store, tokens } = setup();
    store.down = true;
    for (const n of [1, 2, 3]) tokens.keepUnsaved(`${SUBJECT}-${n}`, record(`refresh-${n}`));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.attempts).toBe(3);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.attempts).toBe(6);
    tokens.stop();
  });

  it('stops retrying on stop(): nothing is written after shutdown and no timer is left', async () => {
    const { store, tokens } = setup();
    store.down = true;
    tokens.keepUnsaved(`${SUBJECT}-1`, record('refresh-1'));
    tokens.keepUnsaved(`${SUBJECT}-2`, record('refresh-2'));
    tokens.stop();
    store.down = false;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(store.attempts).toBe(0);
    expect(tokens.unsavedCount).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });
});
