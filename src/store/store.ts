/**
 * The shared state every gateway instance sees: caches, sealed secrets and locks. With REDIS_URL
 * it is Redis, with REDIS_CLUSTER_NODES a Redis Cluster (so N instances fetch a Management token
 * once and share user records); without either, process memory. Values are opaque strings; callers
 * seal anything secret before storing it. Keys used together carry one hash tag (`…{tag}…`), so a
 * cluster keeps them in one slot; the multi-key methods also accept keys of different slots.
 */
export interface SharedStore {
  /** Reads one key; null when absent or expired. */
  get(key: string): Promise<string | null>;
  /** Reads several keys in one round trip, in order. */
  getMany(keys: string[]): Promise<(string | null)[]>;
  /** Writes a key that expires after `ttlMs`. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Writes several keys with the same lifetime in one round trip. */
  setMany(entries: [key: string, value: string][], ttlMs: number): Promise<void>;
  /** Writes a key only if it does not exist (a lock acquisition); true when written. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Deletes a key only if it still holds `value` (a lock release that cannot free someone else's lock). */
  deleteIfEquals(key: string, value: string): Promise<boolean>;
  /** Gives a key a new lifetime only if it still holds `value` (a lock holder's heartbeat); true when extended. */
  extendIfEquals(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Deletes keys. */
  delete(...keys: string[]): Promise<void>;
  /**
   * Tells every instance sharing the store (this one included) that something named `message`
   * changed, on `channel`: how instances drop local copies another instance has replaced. Best
   * effort; a lost message is covered by `subscribe`'s liveness and the local copies' short lifetime.
   */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Calls `onMessage` for every message published on `channel`, and `onLive(false)` as soon as
   * messages may be missed (the subscription's connection is down), `onLive(true)` once they are
   * delivered again. A subscriber must not trust local copies while not live.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onLive: (live: boolean) => void): void;
  /** Resolves when the store answers (a cluster: every master, with cluster_state:ok); rejects otherwise (readiness). */
  ping(): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}

/**
 * How long what a process has seen of the store (token records, user records) may answer in its
 * place while it is unreachable; a token is also never served past its own expiry.
 */
export const OUTAGE_MEMORY_MS = 5 * 60_000;
