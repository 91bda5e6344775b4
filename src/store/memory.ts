import { EventEmitter } from 'node:events';
import type { SharedStore } from './store.js';

interface Entry {
  value: string;
  expiresAt: number;
}

/**
 * The single-instance store used when neither REDIS_URL nor REDIS_CLUSTER_NODES is set. Expired
 * entries are dropped when read and swept periodically, so a long-running demo does not grow
 * without bound.
 */
export class MemoryStore implements SharedStore {
  /** Publish/subscribe within the process: one instance, so every subscriber is local. */
  private readonly bus = new EventEmitter().setMaxListeners(0);
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepIntervalMs = 60_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  async get(key: string): Promise<string | null> {
    return this.read(key);
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    return keys.map((key) => this.read(key));
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  async setMany(entries: [string, string][], ttlMs: number): Promise<void> {
    for (const [key, value] of entries) this.entries.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.read(key) !== null) return false;
    this.entries.set(key, { value, expiresAt: Date.now() + ttlMs });
    return true;
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    if (this.read(key) !== value) return false;
    this.entries.delete(key);
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
    clearInterval(this.sweeper);
    this.entries.clear();
  }

  private read(key: string): string | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return null;
    }
    return entry.value;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
