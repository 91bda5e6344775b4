import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Sealer } from '../store/sealing.js';
import { OUTAGE_MEMORY_MS, type SharedStore } from '../store/store.js';
import type { TokenRecord } from './record.js';

// A record lives at most TOKEN_RECORD_IDLE_TTL_SECONDS past its last use (Auth0 answers for an
// identity whose record expired); one without a refresh token also at most a day past its access
// token's expiry, or a week when that expiry is unknown. The one thing lost with an expired record
// is a refresh token the provider rotated (Auth0 still holds the one it replaced), so the default
// idle lifetime, 90 days, is as long as a rotating provider keeps an unused refresh token alive
// (Bitbucket: 3 months): a record expires only when its refresh token would be dead anyway.
const WITHOUT_REFRESH_GRACE_MS = 86_400_000;
const UNKNOWN_EXPIRY_TTL_MS = 7 * 86_400_000;
/** The idle lifetime when none is given (TOKEN_RECORD_IDLE_TTL_SECONDS' default). */
export const DEFAULT_RECORD_IDLE_TTL_MS = 90 * 86_400_000;
/** A used record's idle lifetime is renewed at most this often (or a tenth of it, if shorter). */
const IDLE_REFRESH_INTERVAL_MS = 86_400_000;

/** Records remembered for an outage, at most. */
const OUTAGE_MEMORY_ENTRIES = 10_000;
/** How often records that could not be stored are written again. */
const WRITE_BACK_INTERVAL_MS = 1_000;
/** How long a record read from the store answers again without a store read (dropped at once when any instance changes it). */
const HOT_TTL_MS = 5_000;
/** The channel on which instances announce a changed subject (its hash tag). */
const CHANGES_CHANNEL = 'token-changes';

/** A subject's stored state; `fromMemory` when the store was unreachable and this process's copy answered. */
export interface TokenState {
  record: TokenRecord | undefined;
  dead: string | null;
  fromMemory: boolean;
}

/**
 * Token records in the shared store, always sealed (AES-256-GCM, bound to the key name). Keys are
 * `token:{h}`, `lock:token:{h}` and `dead:token:{h}` where `h` hashes the subject: the same hash
 * tag puts a subject's record, lock and dead marker in one Redis Cluster slot, and no user id or
 * connection name appears in a key.
 *
 * The process also remembers, unsealed and for OUTAGE_MEMORY_MS at most, the records it has read or
 * written: while the store is unreachable they answer in its place (the broker still checks that
 * a token is unexpired). A record that could not be written (a renewal during an outage, or a
 * write that failed after the provider had already rotated the refresh token) is kept as
 * unsaved: it answers before the store does (the store's copy is older), and is written again
 * every second until the store takes it, so a rotated refresh token is never lost.
 *
 * On the hot path, a subject's state read from the store answers again for up to HOT_TTL_MS
 * without a store read. Every change of a subject (a write, a dead marker set or lifted) is
 * announced to all instances through the store's publish/subscribe, and each drops its copy at
 * once; while that subscription is down nothing is served from it. A caller that knows its copy is
 * stale (a provider just refused the token) reads past it (`fresh`).
 *
 * Retention: a record lives `recordIdleTtlMs` (TOKEN_RECORD_IDLE_TTL_SECONDS) past its last write,
 * and a read renews that lifetime at most once per interval (see keepAlive), so identities in use
 * keep their records and idle ones expire.
 */
export class TokenStore {
  private readonly memory = new LRUCache<string, TokenRecord>({ max: OUTAGE_MEMORY_ENTRIES, ttl: OUTAGE_MEMORY_MS });
  /** Recent store reads by subject tag, while change announcements are live. */
  private readonly hot = new LRUCache<string, { record: TokenRecord | undefined; dead: string | null }>({ max: OUTAGE_MEMORY_ENTRIES, ttl: HOT_TTL_MS });
  private announcementsLive = false;
  private readonly unsaved = new Map<string, TokenRecord>();
  private writeBackTimer: NodeJS.Timeout | undefined;
  /** How long a record is kept past its last use. */
  private readonly idleTtlMs: number;
  /** The least time between two renewals of a record's idle lifetime by this process. */
  private readonly idleRefreshMs: number;
  /** When this process last gave a subject's record a full idle lifetime (wrote or extended it), by tag. */
  private readonly renewedAt: LRUCache<string, number>;

  constructor(
    private readonly store: SharedStore,
    private readonly sealer: Sealer,
    /** Told when a record could not be written and when the unsaved count changes (metrics, logs). */
    private readonly onUnsaved: (event: 'kept' | 'written', pending: number) => void = () => undefined,
    { recordIdleTtlMs = DEFAULT_RECORD_IDLE_TTL_MS }: { recordIdleTtlMs?: number } = {},
  ) {
    this.idleTtlMs = recordIdleTtlMs;
    this.idleRefreshMs = Math.min(IDLE_REFRESH_INTERVAL_MS, recordIdleTtlMs / 10);
    this.renewedAt = new LRUCache<string, number>({ max: 100_000, ttl: this.idleRefreshMs });
    store.subscribe(
      CHANGES_CHANNEL,
      (tag) => this.hot.delete(tag),
      (live) => {
        this.announcementsLive = live;
        if (!live) this.hot.clear();
      },
    );
  }

  /** The store keys of one subject. */
  keys(subjectKey: string, tag = tagOf(subjectKey)): { record: string; lock: string; dead: string; recheck: string } {
    return { record: `token:{${tag}}`, lock: `lock:token:{${tag}}`, dead: `dead:token:{${tag}}`, recheck: `recheck:token:{${tag}}` };
  }

  /** The subject's record; undefined when absent or sealed under a key we no longer hold. */
  async read(subjectKey: string): Promise<TokenRecord | undefined> {
    const unsaved = this.unsaved.get(subjectKey);
    if (unsaved) return unsaved;
    const tag = tagOf(subjectKey);
    const key = this.keys(subjectKey, tag).record;
    const sealed = await this.store.get(key);
    return this.keepAlive(tag, key, sealed, this.remember(subjectKey, this.unseal(sealed, key)));
  }

  /**
   * The subject's record and dead marker in one round trip (both keys share the subject's hash
   * tag, so this is one slot on a Redis Cluster too): the hot path of every provider call.
   */
  async readState(subjectKey: string, { fresh = false }: { fresh?: boolean } = {}): Promise<TokenState> {
    const unsaved = this.unsaved.get(subjectKey);
    if (unsaved) return { record: unsaved, dead: null, fromMemory: true };
    const tag = tagOf(subjectKey);
    const hot = !fresh && this.announcementsLive ? this.hot.get(tag) : undefined;
    if (hot) return { ...hot, fromMemory: false };
    const keys = this.keys(subjectKey, tag);
    try {
      const [sealed, dead] = await this.store.getMany([keys.record, keys.dead]);
      const record = this.remember(subjectKey, this.unseal(sealed ?? null, keys.record));
      const state = { record: this.keepAlive(tag, keys.record, sealed ?? null, record), dead: dead ?? null };
      if (this.announcementsLive) this.hot.set(tag, state);
      return { ...state, fromMemory: false };
    } catch (error) {
      const remembered = this.memory.get(subjectKey);
      if (remembered) return { record: remembered, dead: null, fromMemory: true };
      throw error;
    }
  }

  /** Writes the subject's record, sealed, with a lifetime that fits what it holds. */
  async write(subjectKey: string, record: TokenRecord): Promise<void> {
    const key = this.keys(subjectKey).record;
    await this.store.set(key, this.sealer.seal(JSON.stringify(record), key), ttlFor(record, this.idleTtlMs));
    this.renewedAt.set(tagOf(subjectKey), Date.now());
    this.unsaved.delete(subjectKey);
    this.remember(subjectKey, record);
    this.announce(subjectKey);
  }

  /**
   * Keeps a record the store did not take (see the class comment): it answers for the subject from
   * now on, and is written again every second until the store takes it.
   */
  keepUnsaved(subjectKey: string, record: TokenRecord): void {
    this.unsaved.set(subjectKey, record);
    this.hot.delete(tagOf(subjectKey));
    this.remember(subjectKey, record);
    this.onUnsaved('kept', this.unsaved.size);
    this.scheduleWriteBack();
  }

  /** How many records wait to be written. */
  get unsavedCount(): number {
    return this.unsaved.size;
  }

  /** Writes every unsaved record once; those the store still refuses stay. */
  async writeBack(): Promise<void> {
    for (const [subjectKey, record] of [...this.unsaved]) {
      try {
        await this.write(subjectKey, record);
        this.onUnsaved('written', this.unsaved.size);
      } catch {
        // Still unreachable: the next round tries again.
      }
    }
  }

  /** Stops writing back (on shutdown). Records still unsaved are reported by the caller. */
  stop(): void {
    if (this.writeBackTimer) clearTimeout(this.writeBackTimer);
    this.writeBackTimer = undefined;
  }

  private scheduleWriteBack(): void {
    if (this.writeBackTimer) return;
    this.writeBackTimer = setTimeout(() => {
      this.writeBackTimer = undefined;
      void this.writeBack().finally(() => {
        if (this.unsaved.size > 0) this.scheduleWriteBack();
      });
    }, WRITE_BACK_INTERVAL_MS);
    this.writeBackTimer.unref();
  }

  /**
   * Renews the idle lifetime of a record just read from the store, so that identities in use keep
   * theirs and idle ones expire. Not on every read: only when neither its last write
   * (`updatedAt`) nor this process's last renewal is more recent than `idleRefreshMs` (a day by
   * default), so a record in use always has at least its idle lifetime less that interval left, and
   * the warm path costs no store command. Compare-and-extend: a record another instance replaced
   * meanwhile came with a full lifetime of its own and is left alone. In the background, best effort;
   * a failure is tried again on a later read. A record whose lifetime is bounded by its access
   * token's expiry rather than idleness is not extended.
   */
  private keepAlive(tag: string, key: string, sealed: string | null, record: TokenRecord | undefined): TokenRecord | undefined {
    if (!record || !sealed || ttlFor(record, this.idleTtlMs) < this.idleTtlMs) return record;
    const now = Date.now();
    if (now - Math.max(record.updatedAt, this.renewedAt.get(tag) ?? 0) < this.idleRefreshMs) return record;
    this.renewedAt.set(tag, now);
    this.store.extendIfEquals(key, sealed, this.idleTtlMs).catch(() => this.renewedAt.delete(tag));
    return record;
  }

  private unseal(sealed: string | null, key: string): TokenRecord | undefined {
    const opened = sealed ? this.sealer.open(sealed, key) : undefined;
    return opened ? (JSON.parse(opened) as TokenRecord) : undefined;
  }

  private remember(subjectKey: string, record: TokenRecord | undefined): TokenRecord | undefined {
    if (record) this.memory.set(subjectKey, record);
    else this.memory.delete(subjectKey);
    return record;
  }

  /** Marks the subject dead for `ttlMs`, with the reason, so a burst does not hammer the provider. */
  async markDead(subjectKey: string, reason: string, ttlMs: number): Promise<void> {
    await this.store.set(this.keys(subjectKey).dead, reason, ttlMs);
    this.announce(subjectKey);
  }

  /** Claims the next look at Auth0 for a dead subject; false while another claim is younger than `intervalMs`. */
  async claimRecheck(subjectKey: string, intervalMs: number): Promise<boolean> {
    return this.store.setIfAbsent(this.keys(subjectKey).recheck, '1', intervalMs);
  }

  /**
   * Records that the subject's `refreshToken` is about to be sent to a provider that may rotate it,
   * for `ttlMs`: null when this is its first recorded spend, else the epoch ms of the earlier one,
   * whose outcome this caller does not know (its sender died, or its answer never came). The key
   * holds a fingerprint of the token, never the token, under the subject's hash tag.
   */
  async recordSpend(subjectKey: string, refreshToken: string, ttlMs: number): Promise<number | null> {
    const key = this.spendKey(subjectKey, refreshToken);
    const now = Date.now();
    if (await this.store.setIfAbsent(key, String(now), ttlMs)) return null;
    const earlier = Number(await this.store.get(key));
    return Number.isFinite(earlier) && earlier > 0 ? earlier : now;
  }

  /** Forgets a recorded spend whose answer showed the token was not used up (not rotated, or refused before use). */
  async forgetSpend(subjectKey: string, refreshToken: string): Promise<void> {
    await this.store.delete(this.spendKey(subjectKey, refreshToken));
  }

  /** `spent:token:{h}:<f>`: `f` fingerprints the refresh token (SHA-256), `h` is the subject's tag. */
  private spendKey(subjectKey: string, refreshToken: string): string {
    const print = createHash('sha256').update(refreshToken).digest('base64url').slice(0, 22);
    return `spent:token:{${tagOf(subjectKey)}}:${print}`;
  }

  /** Forgets a dead marker (the user signed in again). */
  async clearDead(subjectKey: string): Promise<void> {
    await this.store.delete(this.keys(subjectKey).dead);
    this.announce(subjectKey);
  }

  /** Drops this instance's hot copy of the subject and tells the others to drop theirs. */
  private announce(subjectKey: string): void {
    const tag = tagOf(subjectKey);
    this.hot.delete(tag);
    // Best effort: if it is lost, the others' copies still expire within HOT_TTL_MS.
    this.store.publish(CHANGES_CHANNEL, tag).catch(() => undefined);
  }
}

/**
 * A subject's hash tag: its keys share it (one Redis Cluster slot), and it names the subject in
 * change announcements. A hash, so no user id or connection name appears in a key or a message.
 */
function tagOf(subjectKey: string): string {
  return createHash('sha256').update(subjectKey).digest('base64url').slice(0, 24);
}

/**
 * A record's lifetime in the store from now: the idle lifetime, shorter for a record without a
 * refresh token (a day past its access token's expiry, a week when that is unknown).
 */
export function ttlFor(record: TokenRecord, idleTtlMs: number, now = Date.now()): number {
  if (record.refreshToken) return idleTtlMs;
  if (record.expiresAt === null) return Math.min(idleTtlMs, UNKNOWN_EXPIRY_TTL_MS);
  return Math.min(idleTtlMs, Math.max(60_000, record.expiresAt - now + WITHOUT_REFRESH_GRACE_MS));
}
