import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';
import { TokenStore } from './token-store.js';

// The spend marker: before a refresh token that may rotate is sent, its spend is recorded, so a
// renewal that finds an earlier spend of the same token (whose sender died) does not replay it blindly.

const SUBJECT = 'identity\u0000bitbucket|{abc}\u0000bitbucket\u0000{abc}';
const REFRESH = 'rt-secret-value-0123456789';

class RecordingStore extends MemoryStore {
  readonly keys: string[] = [];
  readonly values: string[] = [];
  override async setIfAbsent(key: string, value: string, ttlMs: number) {
    this.keys.push(key);
    this.values.push(value);
    return super.setIfAbsent(key, value, ttlMs);
  }
}

const stores: MemoryStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
});

function tokenStore(): { tokens: TokenStore; store: RecordingStore } {
  const store = new RecordingStore();
  stores.push(store);
  return { tokens: new TokenStore(store, Sealer.ephemeral()), store };
}

describe('TokenStore spend markers', () => {
  it('records the first spend (null) and returns its time to a later one', async () => {
    const { tokens } = tokenStore();
    const before = Date.now();
    expect(await tokens.recordSpend(SUBJECT, REFRESH, 60_000)).toBeNull();
    const earlier = await tokens.recordSpend(SUBJECT, REFRESH, 60_000);
    expect(earlier).toBeGreaterThanOrEqual(before);
    expect(earlier).toBeLessThanOrEqual(Date.now());
    // Another refresh token of the same subject is a different spend.
    expect(await tokens.recordSpend(SUBJECT, `${REFRESH}-next`, 60_000)).toBeNull();
  });

  it('forgets a spend, so the token may be sent again at once', async () => {
    const { tokens } = tokenStore();
    await tokens.recordSpend(SUBJECT, REFRESH, 60_000);
    await tokens.forgetSpend(SUBJECT, REFRESH);
    expect(await tokens.recordSpend(SUBJECT, REFRESH, 60_000)).toBeNull();
  });

  it('expires with its lifetime', async () => {
    const { tokens } = tokenStore();
    await tokens.recordSpend(SUBJECT, REFRESH, 30);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await tokens.recordSpend(SUBJECT, REFRESH, 30)).toBeNull();
  });

  it('keys it under the subject hash tag with a fingerprint, never the token or the subject', async () => {
    const { tokens, store } = tokenStore();
    await tokens.recordSpend(SUBJECT, REFRESH, 60_000);
    const [key] = store.keys;
    const tag = /\{([^}]+)\}/.exec(tokens.keys(SUBJECT).record)![1];
    expect(key).toMatch(new RegExp(`^spent:token:\\{${tag}\\}:[\\w-]{22}$`));
    expect(key).not.toContain(REFRESH);
    expect(key).not.toContain('bitbucket|');
    expect(store.values[0]).toMatch(/^\d+$/);
  });

  it('returns the time of the earlier spend, not the time of the later one', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
      const { tokens } = tokenStore();
      const first = Date.now();
      expect(await tokens.recordSpend(SUBJECT, REFRESH, 600_000)).toBeNull();
      vi.setSystemTime(first + 30_000);
      expect(await tokens.recordSpend(SUBJECT, REFRESH, 600_000)).toBe(first);
    } finally {
      vi.useRealTimers();
    }
  });

  it('counts a marker that vanished or holds no time as a spend just now', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
      // The marker is there when claimed, then expired (null) or unreadable by the time it is read.
      for (const stored of [null, '0', '-5', 'Infinity', 'not-a-time']) {
        class MarkerStore extends RecordingStore {
          override async setIfAbsent() {
            return false;
          }
          override async get() {
            return stored;
          }
        }
        const store = new MarkerStore();
        stores.push(store);
        expect(await new TokenStore(store, Sealer.ephemeral()).recordSpend(SUBJECT, REFRESH, 60_000)).toBe(Date.now());
      }
    } finally {
      vi.useRealTimers();
    }
  });
});
