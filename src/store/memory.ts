import { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import type { SharedStore } from './store.js';

/** Entries the in-memory store holds at most, by default. */
export const MEMORY_STORE_MAX_ENTRIES = 100_000;

/** Options of MemoryStore. */
export interface MemoryStoreOptions {
  /** Entries kept at most; past it, the least recently used one is dropped (default MEMORY_STORE_MAX_ENTRIES). */
  maxEntries?: number;
  /** The clock that lifetimes are measured with (tests); default `performance.now`. */
  now?: () => number;
}

/**
 * The single-instance store used when neither REDIS_URL nor REDIS_CLUSTER_NODES is set. Every entry
 * has the lifetime it was written with, and the store is bounded by count: past `maxEntries` the
 * least recently used entry goes first, so a long-running process never grows without bound. An
 * entry dropped early costs what an expired one does (a token record or a user is read from Auth0
 * again). Caution: a lock is an entry too, so a burst of more than `maxEntries` writes while a lock
 * is held can drop it; at the default bound that is far beyond what one instance writes.
 */
export class MemoryStore implements SharedStore {
  /** Publish/subscribe within the process: one instance, so every subscriber is local. */
  private readonly bus = new EventEmitter().setMaxListeners(0);
  private readonly entries: LRUCache<string, string>;

  constructor({ maxEntries = MEMORY_STORE_MAX_ENTRIES, now }: MemoryStoreOptions = {}) {
    // No default ttl: each entry gets its own from set(); an expired entry is dropped when read.
    // A hand-moved clock must be read on every access, not once per millisecond of real time.
    this.entries = new LRUCache<string, string>({ max: maxEntries, ...(now ? { perf: { now }, ttlResolution: 0 } : {}) });
  }

  /** Entries held now, expired ones not yet dropped included. */
  get size(): number {
    return this.entries.size;
  }

  async get(key: string): Promise<string | null> {
    return this.read(key);
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    return keys.map((key) => this.read(key));
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.write(key, value, ttlMs);
  }

  async setMany(entries: [string, string][], ttlMs: number): Promise<void> {
    for (const [key, value] of entries) this.write(key, value, ttlMs);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.read(key) !== null) return false;
    this.write(key, value, ttlMs);
    return true;
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    if (this.read(key) !== value) return false;
    this.entries.delete(key);
    return true;
  }

  async extendIfEquals(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.read(key) !== value) return false;
    this.write(key, value, ttlMs);
    return true;
  }

  async delete(...keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }

  async ping(): Promise<void> {}

  async publish(channel: string, message: string): Promise<void> {
    this.bus.emit(channel, message);
  }

  subscribe(channel: string, onMessage: (message: string) => void, onLive: (live: boolean) => void): void {
    this.bus.on(channel, onMessage);
    onLive(true);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  private read(key: string): string | null {
    return this.entries.get(key) ?? null;
  }

  private write(key: string, value: string, ttlMs: number): void {
    // A lifetime below 1 ms would mean "forever" to the cache; Redis would drop such a key at once.
    this.entries.set(key, value, { ttl: Math.max(1, Math.round(ttlMs)) });
  }
}
