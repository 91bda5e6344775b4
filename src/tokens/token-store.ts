import { createHash } from 'node:crypto';
import type { Sealer } from '../store/sealing.js';
import type { SharedStore } from '../store/store.js';
import type { TokenRecord } from './record.js';

// A record with a refresh token is kept as long as a provider keeps an unused refresh token
// alive (Bitbucket: 3 months); one without is kept a day past its access token's expiry.
const WITH_REFRESH_TTL_MS = 90 * 86_400_000;
const WITHOUT_REFRESH_GRACE_MS = 86_400_000;
const UNKNOWN_EXPIRY_TTL_MS = 7 * 86_400_000;

/**
 * Token records in the shared store, always sealed (AES-256-GCM, bound to the key name). Keys are
 * `token:{h}`, `lock:token:{h}` and `dead:token:{h}` where `h` hashes the subject: the same hash
 * tag puts a subject's record, lock and dead marker in one Redis Cluster slot, and no user id or
 * connection name appears in a key.
 */
export class TokenStore {
  constructor(
    private readonly store: SharedStore,
    private readonly sealer: Sealer,
  ) {}

  /** The store keys of one subject. */
  keys(subjectKey: string): { record: string; lock: string; dead: string; recheck: string } {
    const tag = createHash('sha256').update(subjectKey).digest('base64url').slice(0, 24);
    return { record: `token:{${tag}}`, lock: `lock:token:{${tag}}`, dead: `dead:token:{${tag}}`, recheck: `recheck:token:{${tag}}` };
  }

  /** The subject's record; undefined when absent or sealed under a key we no longer hold. */
  async read(subjectKey: string): Promise<TokenRecord | undefined> {
    const key = this.keys(subjectKey).record;
    const sealed = await this.store.get(key);
    const opened = sealed ? this.sealer.open(sealed, key) : undefined;
    return opened ? (JSON.parse(opened) as TokenRecord) : undefined;
  }

  /**
   * The subject's record and dead marker in one round trip (both keys share the subject's hash
   * tag, so this is one slot on a Redis Cluster too): the hot path of every provider call.
   */
  async readState(subjectKey: string): Promise<{ record: TokenRecord | undefined; dead: string | null }> {
    const keys = this.keys(subjectKey);
    const [sealed, dead] = await this.store.getMany([keys.record, keys.dead]);
    const opened = sealed ? this.sealer.open(sealed, keys.record) : undefined;
    return { record: opened ? (JSON.parse(opened) as TokenRecord) : undefined, dead: dead ?? null };
  }

  /** Writes the subject's record, sealed, with a lifetime that fits what it holds. */
  async write(subjectKey: string, record: TokenRecord): Promise<void> {
    const key = this.keys(subjectKey).record;
    await this.store.set(key, this.sealer.seal(JSON.stringify(record), key), ttlFor(record));
  }

  /** Marks the subject dead for `ttlMs`, with the reason, so a burst does not hammer the provider. */
  async markDead(subjectKey: string, reason: string, ttlMs: number): Promise<void> {
    await this.store.set(this.keys(subjectKey).dead, reason, ttlMs);
  }

  /** Claims the next look at Auth0 for a dead subject; false while another claim is younger than `intervalMs`. */
  async claimRecheck(subjectKey: string, intervalMs: number): Promise<boolean> {
    return this.store.setIfAbsent(this.keys(subjectKey).recheck, '1', intervalMs);
  }

  /** Forgets a dead marker (the user signed in again). */
  async clearDead(subjectKey: string): Promise<void> {
    await this.store.delete(this.keys(subjectKey).dead);
  }
}

function ttlFor(record: TokenRecord): number {
  if (record.refreshToken) return WITH_REFRESH_TTL_MS;
  if (record.expiresAt === null) return UNKNOWN_EXPIRY_TTL_MS;
  return Math.max(60_000, record.expiresAt - Date.now() + WITHOUT_REFRESH_GRACE_MS);
}
