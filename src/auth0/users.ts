import { LRUCache } from 'lru-cache';
import { ProviderRateLimitedError, UpstreamUnavailableError } from '../errors.js';
import { recordStaleServe } from '../http/request-stats.js';
import type { Logger } from '../logger.js';
import { SingleFlight } from '../store/lock.js';
import { OUTAGE_MEMORY_MS, type SharedStore } from '../store/store.js';
import type { ManagementClient } from './management-client.js';
import type { Auth0User } from './types.js';
import { toUserRecord, type IdentityTokens, type UserRecord } from './user-record.js';

// Only what the schema shows; a projection keeps search responses small.
const SEARCH_FIELDS = ['user_id', 'email', 'name', 'picture', 'identities', 'last_login', 'updated_at'];

/** What the directory needs. */
export interface UserDirectoryDeps {
  client: ManagementClient;
  /** Tenant origin; counted into the URL length of a search. */
  origin: string;
  store: SharedStore;
  /** How long a user record is reused across requests; 0 disables the cache. */
  ttlSeconds: number;
  /** How long an id Auth0 does not know is remembered as missing (by loadMany only); 0 disables the memo. */
  missingTtlSeconds?: number;
  /** How long past `ttlSeconds` a cached record still answers loadMany while Auth0 fails; 0 disables. */
  staleGraceSeconds?: number;
  /** Called for every record served stale. */
  onStaleServe?: () => void;
  logger: Logger;
  /** Receives the provider tokens seen in Management API answers (the token broker keeps them sealed). */
  onTokens?: (tokens: IdentityTokens[]) => Promise<void>;
  /** Ids per search call; Auth0 pages at most 100 and publishes no query-length limit. */
  maxIdsPerSearch?: number;
  /** Longest search URL sent; longer ones answer 414, and no limit is published, so stay well under 8 KiB. */
  maxUrlLength?: number;
}

/**
 * Reads users from Auth0 with as few Management API calls as correctness allows. A batch of ids is
 * answered from the shared cache first; the misses are read with one search per chunk (chunked by
 * id count and by URL length so no query trips 414); ids the search did not return are read with
 * GET /users/{id}, because search is eventually consistent and a freshly linked account may be
 * missing from it. A single miss skips the search: one GET is as cheap and immediately consistent.
 *
 * Ids that neither the search nor the GET found are remembered as missing for a few seconds, in the
 * same shared key a record would use: otherwise asking again for a batch of unknown ids costs a
 * search and a GET per id every time, which is how one caller's retries filled the Management API
 * queue for everybody. The memo only spares loadMany; the fresh reads still ask Auth0, and a user
 * they find replaces the memo at once.
 *
 * Stale if error: a cached record is kept in the store for `staleGraceSeconds` past its lifetime,
 * stamped with when it was written. Past its lifetime loadMany asks Auth0 as for any miss, but when
 * Auth0 fails (a timeout, a 5xx, its circuit breaker open, a rate limit) the old record answers
 * instead of an error: a user's name and identities seconds or minutes old are a better answer than
 * none. Each such answer is counted and shown in the request's `extensions.upstream.auth0`.
 */
export class UserDirectory {
  private readonly maxIdsPerSearch: number;
  private readonly maxUrlLength: number;
  private readonly missingTtlSeconds: number;
  private readonly staleGraceSeconds: number;
  private readonly freshReads = new SingleFlight<{ record: UserRecord; tokens: IdentityTokens[] } | null>();
  /**
   * The user records this process has read or written lately (no secrets in them), for a store
   * outage only: then they answer instead of the shared cache, which would otherwise turn every
   * request into Management API reads.
   */
  private readonly recent = new LRUCache<string, UserRecord>({ max: 10_000, ttl: OUTAGE_MEMORY_MS });
  /**
   * The shared cache's answers of the last few seconds (records and remembered misses), so a busy
   * user's requests do not each read Redis. Any instance that writes a user announces it through
   * the store's publish/subscribe and every instance drops its copy; while that subscription is
   * down nothing is answered from here.
   */
  private readonly hot = new LRUCache<string, { value: UserRecord | null }>({ max: 10_000, ttl: HOT_TTL_MS });
  private announcementsLive = false;

  constructor(private readonly deps: UserDirectoryDeps) {
    this.maxIdsPerSearch = deps.maxIdsPerSearch ?? 50;
    this.maxUrlLength = deps.maxUrlLength ?? 4000;
    this.missingTtlSeconds = deps.missingTtlSeconds ?? 0;
    this.staleGraceSeconds = deps.ttlSeconds > 0 ? (deps.staleGraceSeconds ?? 0) : 0;
    deps.store.subscribe(
      USER_CHANGES_CHANNEL,
      (id) => this.hot.delete(id),
      (live) => {
        this.announcementsLive = live;
        if (!live) this.hot.clear();
      },
    );
  }

  /** Users in the order of `ids`: a record, null when the user does not exist, or an Error for that id alone. */
  async loadMany(ids: readonly string[]): Promise<(UserRecord | null | Error)[]> {
    const unique = [...new Set(ids)];
    const { found, stale } = await this.readCache(unique);
    const misses = unique.filter((id) => !found.has(id));
    if (misses.length === 1) found.set(misses[0]!, await this.loadFresh(misses[0]!).catch(asError));
    else if (misses.length > 1) {
      const fetched = await this.fetchMany(misses).catch((error: unknown) => new Map(misses.map((id) => [id, asError(error)])));
      for (const [id, user] of fetched) found.set(id, user);
    }
    this.serveStale(found, stale);
    // Null means Auth0 answered "no such user"; an Error (a timeout, a 5xx) says nothing about the id.
    await this.rememberMissing(misses.filter((id) => found.get(id) === null));
    return ids.map((id) => found.get(id) ?? null);
  }

  /** Reads one user with GET /users/{id}, bypassing the cache (immediately consistent, includes token presence). */
  async loadFresh(id: string): Promise<UserRecord | null> {
    return (await this.loadFreshWithTokens(id))?.record ?? null;
  }

  /**
   * Like loadFresh, and also returns the provider tokens Auth0 holds for the user's identities.
   * Concurrent reads of one user (a burst of requests, each with its own loaders) share one GET.
   */
  loadFreshWithTokens(id: string): Promise<{ record: UserRecord; tokens: IdentityTokens[] } | null> {
    return this.freshReads.run(id, async () => {
      const user = await this.deps.client.getUser(id);
      if (!user) return null;
      const accepted = await this.accept(user, true);
      await this.writeCache([accepted.record]);
      return accepted;
    });
  }

  /** Replaces Auth0 failures with the expired records still within their grace (stale if error). */
  private serveStale(found: Map<string, UserRecord | null | Error>, stale: Map<string, StaleRecord>): void {
    for (const [id, old] of stale) {
      const value = found.get(id);
      if (!(value instanceof UpstreamUnavailableError || value instanceof ProviderRateLimitedError)) continue;
      found.set(id, old.record);
      recordStaleServe('auth0', old.ageMs);
      this.deps.onStaleServe?.();
      this.deps.logger.debug(
        { event: 'user_served_stale', ageMs: old.ageMs, code: value.code },
        'Auth0 failed; a cached user record past its lifetime answered',
      );
    }
  }

  private async fetchMany(ids: string[]): Promise<Map<string, UserRecord | null | Error>> {
    const result = new Map<string, UserRecord | null | Error>();
    for (const chunk of this.chunks(ids)) {
      const users = await this.deps.client.searchUsers(userIdQuery(chunk), chunk.length, SEARCH_FIELDS).catch((error: unknown) => {
        // A failed search (a timeout, a 5xx, or a 400 for a query Auth0 would not parse) is no reason
        // to fail: the per-id reads below still work. It is logged, since every batch then costs a
        // GET per id, and a 400 means the gateway built a query the tenant refuses.
        if (error instanceof UpstreamUnavailableError) {
          this.deps.logger.warn(
            { event: 'user_search_failed', count: chunk.length, reason: error.message },
            'Auth0 user search failed; reading the users one by one',
          );
          return [] as Auth0User[];
        }
        throw error;
      });
      const records = await Promise.all(users.map(async (user) => (await this.accept(user, false)).record));
      await this.writeCache(records);
      for (const record of records) result.set(record.id, record);
    }
    const unseen = ids.filter((id) => !result.has(id));
    if (unseen.length > 0) {
      this.deps.logger.debug({ event: 'user_search_fallback', count: unseen.length }, 'search missed users; reading them one by one');
    }
    const fallbacks = await Promise.all(unseen.map((id) => this.loadFresh(id).catch(asError)));
    unseen.forEach((id, index) => result.set(id, fallbacks[index]!));
    return result;
  }

  /** Splits ids into search chunks that respect both the id count and the URL length limits. */
  private chunks(ids: string[]): string[][] {
    const chunks: string[][] = [];
    let current: string[] = [];
    for (const id of ids) {
      const candidate = [...current, id];
      const url = this.deps.origin + this.deps.client.searchPath(userIdQuery(candidate), candidate.length, SEARCH_FIELDS);
      if (current.length > 0 && (candidate.length > this.maxIdsPerSearch || url.length > this.maxUrlLength)) {
        chunks.push(current);
        current = [id];
      } else {
        current = candidate;
      }
    }
    if (current.length > 0) chunks.push(current);
    return chunks;
  }

  private async accept(user: Auth0User, withTokens: boolean): Promise<{ record: UserRecord; tokens: IdentityTokens[] }> {
    const accepted = toUserRecord(user, withTokens);
    if (accepted.tokens.length > 0 && this.deps.onTokens) {
      // Handing the tokens to the broker is an optimisation (it saves a later GET); its failure must not fail the read.
      await this.deps.onTokens(accepted.tokens).catch((error: unknown) => {
        this.deps.logger.warn({ event: 'token_adoption_failed', err: error }, 'could not keep the tokens of a Management API answer');
      });
    }
    return accepted;
  }

  /**
   * Cached records and remembered misses (null) in `found`, each kind only believed while its own
   * TTL is on; records past their lifetime but within the grace in `stale`, to answer if Auth0 fails.
   */
  private async readCache(ids: string[]): Promise<{ found: Map<string, UserRecord | null | Error>; stale: Map<string, StaleRecord> }> {
    const found = new Map<string, UserRecord | null | Error>();
    const stale = new Map<string, StaleRecord>();
    const useRecords = this.deps.ttlSeconds > 0;
    const useMissing = this.missingTtlSeconds > 0;
    if ((!useRecords && !useMissing) || ids.length === 0) return { found, stale };
    const uncached: string[] = [];
    for (const id of ids) {
      const hot = this.announcementsLive ? this.hot.get(id) : undefined;
      if (hot) found.set(id, hot.value);
      else uncached.push(id);
    }
    if (uncached.length === 0) return { found, stale };
    try {
      const values = await this.deps.store.getMany(uncached.map(cacheKey));
      values.forEach((value, index) => {
        if (value) this.believe(uncached[index]!, JSON.parse(value) as CachedRecord | null, found, stale);
      });
    } catch (error) {
      // A cache outage costs answers from this process's memory, then Management API calls, never answers.
      this.deps.logger.warn({ event: 'user_cache_read_failed', err: error }, 'user cache unavailable');
      for (const id of uncached) {
        const remembered = this.recent.get(id);
        if (remembered) found.set(id, remembered);
      }
    }
    return { found, stale };
  }

  /** Sorts one shared cache entry into fresh (`found`, and a hot copy) or `stale`, by its age. */
  private believe(id: string, cached: CachedRecord | null, found: Map<string, UserRecord | null | Error>, stale: Map<string, StaleRecord>): void {
    if (cached === null) {
      if (this.missingTtlSeconds === 0) return;
      found.set(id, null);
      // Never longer than the shared entry's own lifetime (a remembered miss is short).
      if (this.announcementsLive) this.hot.set(id, { value: null }, { ttl: Math.min(HOT_TTL_MS, this.missingTtlSeconds * 1000) });
      return;
    }
    if (this.deps.ttlSeconds === 0) return;
    const { cachedAt, ...record } = cached;
    // An entry without a stamp was written by an older version with the plain TTL: fresh while it exists.
    const ageMs = cachedAt === undefined ? 0 : Math.max(0, Date.now() - cachedAt);
    const freshForMs = this.deps.ttlSeconds * 1000 - ageMs;
    if (freshForMs <= 0) {
      if (ageMs <= (this.deps.ttlSeconds + this.staleGraceSeconds) * 1000) stale.set(id, { record, ageMs });
      return;
    }
    found.set(id, record);
    this.recent.set(record.id, record);
    if (this.announcementsLive) this.hot.set(id, { value: record }, { ttl: Math.min(HOT_TTL_MS, freshForMs) });
  }

  /**
   * Remembers ids as missing. Only where the key is empty: the GETs of a batch can take seconds, and
   * a record another read cached meanwhile (the user was just created) is newer than our 404.
   */
  private async rememberMissing(ids: string[]): Promise<void> {
    if (this.missingTtlSeconds === 0 || ids.length === 0) return;
    const ttlMs = this.missingTtlSeconds * 1000;
    await Promise.all(ids.map((id) => this.deps.store.setIfAbsent(cacheKey(id), MISSING, ttlMs))).catch((error: unknown) => {
      this.deps.logger.warn({ event: 'user_cache_write_failed', err: error }, 'user cache unavailable');
    });
    this.announce(ids);
  }

  /** Drops this instance's hot copies of the users and tells the other instances to drop theirs. */
  private announce(ids: string[]): void {
    for (const id of ids) {
      this.hot.delete(id);
      // Best effort: if it is lost, the others' copies still expire within HOT_TTL_MS.
      this.deps.store.publish(USER_CHANGES_CHANNEL, id).catch(() => undefined);
    }
  }

  private async writeCache(records: UserRecord[]): Promise<void> {
    if (records.length === 0) return;
    for (const record of records) this.recent.set(record.id, record);
    const ids = records.map((record) => record.id);
    if (this.deps.ttlSeconds === 0) {
      // Records are not cached, but a user just found must not stay remembered as missing.
      if (this.missingTtlSeconds > 0) {
        await this.deps.store.delete(...ids.map(cacheKey)).catch((error: unknown) => {
          this.deps.logger.warn({ event: 'user_cache_write_failed', err: error }, 'user cache unavailable');
        });
      }
    } else {
      const cachedAt = Date.now();
      const entries = records.map((record): [string, string] => [cacheKey(record.id), JSON.stringify({ ...record, cachedAt } satisfies CachedRecord)]);
      await this.deps.store.setMany(entries, (this.deps.ttlSeconds + this.staleGraceSeconds) * 1000).catch((error: unknown) => {
        this.deps.logger.warn({ event: 'user_cache_write_failed', err: error }, 'user cache unavailable');
      });
    }
    // After the write: an instance that drops its copy and reads again finds the new record.
    this.announce(ids);
  }
}

/** The Lucene query that matches any of `ids` (values quoted: user ids contain `|` and `-`). */
export function userIdQuery(ids: string[]): string {
  return `user_id:(${ids.map((id) => `"${id.replace(/["\\]/g, '\\$&')}"`).join(' OR ')})`;
}

/** A user record as the shared cache holds it: stamped with when it was written (epoch ms). */
type CachedRecord = UserRecord & { cachedAt?: number };

/** A record past its cache lifetime, within the grace. */
interface StaleRecord {
  record: UserRecord;
  ageMs: number;
}

/** How long a user read from the shared cache answers again without a store read (dropped at once when any instance writes it). */
const HOT_TTL_MS = 5_000;
/** The channel on which instances announce a user they wrote (its id). */
const USER_CHANGES_CHANNEL = 'user-changes';

// A remembered miss lives in the user's own cache key, so any read that finds the user overwrites it.
const MISSING = JSON.stringify(null);

// Hash-tagged per user, so a later Redis Cluster keeps each user's keys in one slot.
function cacheKey(id: string): string {
  return `user:{${id}}`;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
