import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';
import type { TokenRecord } from './record.js';
import { TokenStore, ttlFor } from './token-store.js';

// Bounded retention: a token record lives at most its idle lifetime past its last use. Use renews
// that lifetime, but at most once a day (a tenth of the lifetime, if shorter) per subject and
// process, and never for a record written within that interval: the warm path costs no command.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SUBJECT = 'identity\u0000auth0|alice\u0000google-oauth2\u00001234';

/** A memory store that counts writes and extensions, with the lifetimes asked for. */
class CountingStore extends MemoryStore {
  readonly sets: number[] = [];
  readonly extensions: number[] = [];
  override async set(key: string, value: string, ttlMs: number) {
    this.sets.push(ttlMs);
    return super.set(key, value, ttlMs);
  }
  override async extendIfEquals(key: string, value: string, ttlMs: number) {
    this.extensions.push(ttlMs);
    return super.extendIfEquals(key, value, ttlMs);
  }
}

const record = (overrides: Partial<TokenRecord> = {}): TokenRecord => ({
  accessToken: 'access',
  refreshToken: 'refresh',
  expiresAt: Date.now() + HOUR,
  exactExpiry: true,
  auth0: 'fingerprint',
  updatedAt: Date.now(),
  ...overrides,
});

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
});
afterEach(() => vi.useRealTimers());

describe('ttlFor', () => {
  it('keeps a record with a refresh token for the idle lifetime', () => {
    expect(ttlFor(record(), 30 * DAY)).toBe(30 * DAY);
  });
  it('keeps one without a refresh token a day past its expiry, never past the idle lifetime', () => {
    expect(ttlFor(record({ refreshToken: null }), 30 * DAY)).toBe(HOUR + DAY);
    expect(ttlFor(record({ refreshToken: null, expiresAt: Date.now() + 60 * DAY }), 30 * DAY)).toBe(30 * DAY);
    expect(ttlFor(record({ refreshToken: null, expiresAt: Date.now() - 10 * DAY }), 30 * DAY)).toBe(60_000);
  });
  it('keeps one with an unknown expiry a week, never past the idle lifetime', () => {
    expect(ttlFor(record({ refreshToken: null, expiresAt: null }), 30 * DAY)).toBe(7 * DAY);
    expect(ttlFor(record({ refreshToken: null, expiresAt: null }), DAY)).toBe(DAY);
  });
});

describe('TokenStore idle lifetime', () => {
  it('writes a record with the idle lifetime (90 days by default)', async () => {
    const store = new CountingStore();
    await new TokenStore(store, Sealer.ephemeral()).write(SUBJECT, record());
    await new TokenStore(store, Sealer.ephemeral(), undefined, { recordIdleTtlMs: 2 * DAY }).write(SUBJECT, record());
    expect(store.sets).toEqual([90 * DAY, 2 * DAY]);
  });

  it('renews it on use at most once a day, and not within a day of its last write', async () => {
    const store = new CountingStore();
    const tokens = new TokenStore(store, Sealer.ephemeral(), undefined, { recordIdleTtlMs: 30 * DAY });
    await tokens.write(SUBJECT, record());
    for (let i = 0; i < 20; i += 1) expect(await tokens.read(SUBJECT)).toBeDefined();
    vi.setSystemTime(Date.now() + 23 * HOUR);
    await tokens.readState(SUBJECT, { fresh: true });
    expect(store.extensions).toEqual([]);

    vi.setSystemTime(Date.now() + 2 * HOUR);
    for (let i = 0; i < 20; i += 1) await tokens.readState(SUBJECT, { fresh: true });
    expect(store.extensions).toEqual([30 * DAY]);

    vi.setSystemTime(Date.now() + 23 * HOUR);
    await tokens.read(SUBJECT);
    expect(store.extensions).toHaveLength(1);
    vi.setSystemTime(Date.now() + 2 * HOUR);
    await tokens.read(SUBJECT);
    expect(store.extensions).toEqual([30 * DAY, 30 * DAY]);
  });

  it('renews a tenth of a short idle lifetime at most', async () => {
    const store = new CountingStore();
    const tokens = new TokenStore(store, Sealer.ephemeral(), undefined, { recordIdleTtlMs: 10 * HOUR });
    await tokens.write(SUBJECT, record());
    vi.setSystemTime(Date.now() + 59 * 60_000);
    await tokens.read(SUBJECT);
    expect(store.extensions).toEqual([]);
    vi.setSystemTime(Date.now() + 2 * 60_000);
    await tokens.read(SUBJECT);
    expect(store.extensions).toEqual([10 * HOUR]);
  });

  it('leaves a record another instance replaced alone: the replacement came with a lifetime of its own', async () => {
    let release = () => undefined as void;
    const outcomes: boolean[] = [];
    // Extensions wait until the test lets them go, so another write can come first.
    class GatedStore extends CountingStore {
      override async extendIfEquals(key: string, value: string, ttlMs: number) {
        await new Promise<void>((resolve) => (release = resolve));
        const extended = await super.extendIfEquals(key, value, ttlMs);
        outcomes.push(extended);
        return extended;
      }
    }
    const store = new GatedStore();
    const sealer = Sealer.ephemeral();
    const ours = new TokenStore(store, sealer);
    const theirs = new TokenStore(store, sealer);
    await theirs.write(SUBJECT, record({ accessToken: 'old', updatedAt: Date.now() - 2 * DAY }));
    expect((await ours.read(SUBJECT))?.accessToken).toBe('old');
    await theirs.write(SUBJECT, record({ accessToken: 'new' }));
    release();
    await vi.waitFor(() => expect(outcomes).toEqual([false]));
    expect((await ours.read(SUBJECT))?.accessToken).toBe('new');
  });

  it('does not extend a record whose lifetime its expiry bounds', async () => {
    const store = new CountingStore();
    const tokens = new TokenStore(store, Sealer.ephemeral());
    await tokens.write(SUBJECT, record({ refreshToken: null, expiresAt: Date.now() + 10 * DAY }));
    vi.setSystemTime(Date.now() + 3 * DAY);
    await tokens.read(SUBJECT);
    expect(store.extensions).toEqual([]);
    expect(store.sets).toEqual([11 * DAY]);
  });

  it('tries a failed renewal again on the next read, not a day later', async () => {
    let failures = 1;
    class FailingStore extends CountingStore {
      override async extendIfEquals(key: string, value: string, ttlMs: number) {
        const extended = await super.extendIfEquals(key, value, ttlMs);
        if (failures-- > 0) throw new Error('redis is reconnecting');
        return extended;
      }
    }
    const store = new FailingStore();
    const tokens = new TokenStore(store, Sealer.ephemeral(), undefined, { recordIdleTtlMs: 30 * DAY });
    await tokens.write(SUBJECT, record());
    vi.setSystemTime(Date.now() + 2 * DAY);
    await tokens.read(SUBJECT);
    expect(store.extensions).toHaveLength(1);
    // The failure is seen in the background; once it is, the next read renews again.
    await new Promise((resolve) => setImmediate(resolve));
    await tokens.read(SUBJECT);
    expect(store.extensions).toEqual([30 * DAY, 30 * DAY]);
  });
});
