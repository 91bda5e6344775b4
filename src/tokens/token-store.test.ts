import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';
import type { SharedStore } from '../store/store.js';
import type { TokenRecord } from './record.js';
import { TokenStore } from './token-store.js';

// The token store's memory for store outages: records it has read or written answer while the
// store is unreachable, and a record the store did not take is never lost: it answers before the
// store's older copy and is written back once the store takes it.

const SUBJECT = 'identity\u0000auth0|alice\u0000google-oauth2\u00001234';
const record = (accessToken: string, refreshToken = 'refresh-1'): TokenRecord => ({
  accessToken,
  refreshToken,
  expiresAt: Date.now() + 3_600_000,
  exactExpiry: true,
  auth0: 'fingerprint',
  updatedAt: Date.now(),
});

/** A memory store that can be switched off, as Redis going away looks to the gateway. */
class FlakyStore extends MemoryStore {
  down = false;
  /** Writes tried, refused ones included. */
  writeAttempts = 0;
  reads = 0;
  override async get(key: string) {
    this.check();
    return super.get(key);
  }
  override async getMany(keys: string[]) {
    this.check();
    this.reads += 1;
    return super.getMany(keys);
  }
  override async set(key: string, value: string, ttlMs: number) {
    this.writeAttempts += 1;
    this.check();
    return super.set(key, value, ttlMs);
  }
  private check(): void {
    if (this.down) throw new Error('redis is reconnecting');
  }
}

/**
 * A flaky store whose change announcements can be cut, as when the subscription's connection drops:
 * subscribers are told they are not live, and messages published meanwhile never reach them.
 */
class AnnouncingStore extends FlakyStore {
  private readonly onLives: ((live: boolean) => void)[] = [];
  private linked = true;
  override subscribe(channel: string, onMessage: (message: string) => void, onLive: (live: boolean) => void): void {
    this.onLives.push(onLive);
    super.subscribe(channel, (message) => this.linked && onMessage(message), onLive);
  }
  /** Cuts or restores the subscription, telling every subscriber (a repeated `true` is Redis' ready and subscribe both reporting). */
  link(live: boolean): void {
    this.linked = live;
    for (const onLive of this.onLives) onLive(live);
  }
}

const stores: SharedStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function setup() {
  const shared = new FlakyStore();
  stores.push(shared);
  const events: [string, number][] = [];
  const sealer = Sealer.ephemeral();
  const tokens = new TokenStore(shared, sealer, (event, pending) => events.push([event, pending]));
  return { shared, sealer, tokens, events };
}

describe('TokenStore during a store outage', () => {
  it('answers with the record it last read or wrote, marked as from memory', async () => {
    const { shared, tokens } = setup();
    await tokens.write(SUBJECT, record('access-1'));
    shared.down = true;
    const state = await tokens.readState(SUBJECT);
    expect(state).toEqual({ record: expect.objectContaining({ accessToken: 'access-1' }), dead: null, fromMemory: true });
  });

  it('fails as before for a subject it has never seen', async () => {
    const { shared, tokens } = setup();
    shared.down = true;
    await expect(tokens.readState(SUBJECT)).rejects.toThrow(/reconnecting/);
  });

  it('keeps an unsaved record, answers with it before the store, and writes it back when the store returns', async () => {
    const { shared, sealer, tokens, events } = setup();
    await tokens.write(SUBJECT, record('old', 'refresh-old'));
    shared.down = true;
    tokens.keepUnsaved(SUBJECT, record('new', 'refresh-rotated'));
    expect(tokens.unsavedCount).toBe(1);
    await tokens.writeBack();
    expect(tokens.unsavedCount).toBe(1);

    shared.down = false;
    // The store still has the old record; the unsaved one is newer and answers, from memory.
    expect(await tokens.readState(SUBJECT)).toEqual({
      record: expect.objectContaining({ refreshToken: 'refresh-rotated' }),
      dead: null,
      fromMemory: true,
    });
    expect((await tokens.read(SUBJECT))?.refreshToken).toBe('refresh-rotated');
    await tokens.writeBack();
    expect(tokens.unsavedCount).toBe(0);
    expect(events).toEqual([
      ['kept', 1],
      ['written', 0],
    ]);
    // Now from the store itself, as another instance would read it.
    const other = new TokenStore(shared, sealer);
    expect((await other.read(SUBJECT))?.refreshToken).toBe('refresh-rotated');
    tokens.stop();
  });
});

describe('TokenStore on the hot path', () => {
  it('answers a subject read moments ago without a store read, and reads past it when asked for fresh', async () => {
    const { shared, tokens } = setup();
    await tokens.write(SUBJECT, record('access-1'));
    await tokens.readState(SUBJECT);
    const reads = shared.reads;
    expect((await tokens.readState(SUBJECT)).record?.accessToken).toBe('access-1');
    expect(shared.reads).toBe(reads);
    await tokens.readState(SUBJECT, { fresh: true });
    expect(shared.reads).toBe(reads + 1);
  });

  it('drops its copy as soon as another instance changes the subject (a renewal, a dead marker)', async () => {
    const { shared, sealer, tokens } = setup();
    const other = new TokenStore(shared, sealer);
    await tokens.write(SUBJECT, record('access-1'));
    expect((await tokens.readState(SUBJECT)).record?.accessToken).toBe('access-1');
    await other.write(SUBJECT, record('access-2'));
    expect((await tokens.readState(SUBJECT)).record?.accessToken).toBe('access-2');
    await other.markDead(SUBJECT, 'invalid_grant', 60_000);
    expect((await tokens.readState(SUBJECT)).dead).toBe('invalid_grant');
    await other.clearDead(SUBJECT);
    expect((await tokens.readState(SUBJECT)).dead).toBeNull();
  });

  it('drops its copies when announcements stop, so a change made meanwhile is read once they resume', async () => {
    const shared = new AnnouncingStore();
    stores.push(shared);
    const sealer = Sealer.ephemeral();
    const tokens = new TokenStore(shared, sealer);
    const other = new TokenStore(shared, sealer);
    await tokens.write(SUBJECT, record('access-1'));
    expect((await tokens.readState(SUBJECT)).record?.accessToken).toBe('access-1');
    shared.link(false);
    // Its announcement is lost: only the dropped copy makes the next read see it.
    await other.write(SUBJECT, record('access-2'));
    shared.link(true);
    expect((await tokens.readState(SUBJECT)).record?.accessToken).toBe('access-2');
  });

  it('keeps its copies when the subscription reports live again without having dropped', async () => {
    const shared = new AnnouncingStore();
    stores.push(shared);
    const tokens = new TokenStore(shared, Sealer.ephemeral());
    await tokens.write(SUBJECT, record('access-1'));
    await tokens.readState(SUBJECT);
    const reads = shared.reads;
    shared.link(true);
    expect((await tokens.readState(SUBJECT)).record?.accessToken).toBe('access-1');
    expect(shared.reads).toBe(reads);
  });
});

// A record the store did not take (a rotated refresh token during an outage) is written again every
// second until the store takes it, then no timer is left behind; stop() on shutdown ends the retries.
describe('TokenStore write-back', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries an unsaved record every second until the store recovers, then leaves no timer', async () => {
    const { shared: store, sealer, tokens } = setup();
    store.down = true;
    tokens.keepUnsaved(SUBJECT, record('access', 'refresh-rotated'));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.writeAttempts).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.writeAttempts).toBe(2);
    expect(tokens.unsavedCount).toBe(1);

    store.down = false;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(tokens.unsavedCount).toBe(0);
    // Another instance now reads the rotated refresh token from the store.
    expect((await new TokenStore(store, sealer).read(SUBJECT))?.refreshToken).toBe('refresh-rotated');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(store.writeAttempts).toBe(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('tries each unsaved record once a second, however many are kept', async () => {
    const { shared: store, tokens } = setup();
    store.down = true;
    for (const n of [1, 2, 3]) tokens.keepUnsaved(`${SUBJECT}-${n}`, record('access', `refresh-${n}`));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.writeAttempts).toBe(3);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(store.writeAttempts).toBe(6);
    tokens.stop();
  });

  it('stops retrying on stop(): nothing is written after shutdown and no timer is left', async () => {
    const { shared: store, tokens } = setup();
    store.down = true;
    tokens.keepUnsaved(`${SUBJECT}-1`, record('access', 'refresh-1'));
    tokens.keepUnsaved(`${SUBJECT}-2`, record('access', 'refresh-2'));
    tokens.stop();
    store.down = false;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(store.writeAttempts).toBe(0);
    expect(tokens.unsavedCount).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
  });
});
