import { Redis, type Cluster } from 'ioredis';
import type { SharedStore } from './store.js';

// Compare-and-delete in one step, so a lock whose lease expired and was taken by another instance
// is never released by its former holder. One key, so it is slot-safe on a Redis Cluster as well.
export const DELETE_IF_EQUALS = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0`;

// Compare-and-extend in one step: a lock holder's heartbeat renews its lease only while the lock is
// still its own, never one another instance took after the lease ran out. One key: slot-safe.
export const EXTEND_IF_EQUALS = `
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0`;

/**
 * The shared store on Redis. Every key is namespaced with `keyPrefix`, so several gateways (or test
 * files) can share one server. The client fails commands fast while disconnected instead of
 * queueing them, because a request waiting on a dead Redis is worse than an UPSTREAM_UNAVAILABLE.
 */
export class RedisStore implements SharedStore {
  readonly client: Redis;
  /** A second connection for subscriptions (a subscribed connection takes no other command). */
  private subscriber: Redis | undefined;

  constructor(
    url: string,
    private readonly keyPrefix: string,
  ) {
    this.client = new Redis(url, {
      lazyConnect: false,
      // Commands may wait for the first connection, never longer than the command timeout.
      enableOfflineQueue: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      commandTimeout: 1000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    });
    // Connection errors surface as failed commands; without a listener ioredis would print them.
    this.client.on('error', () => {});
  }

  /** Throws at once while the connection is lost, instead of queueing behind reconnect attempts. */
  private available(): void {
    const status = this.client.status;
    if (status === 'reconnecting' || status === 'close' || status === 'end') throw new Error(`redis is ${status}`);
  }

  async get(key: string): Promise<string | null> {
    this.available();
    return this.client.get(this.keyPrefix + key);
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    this.available();
    if (keys.length === 0) return [];
    return this.client.mget(keys.map((key) => this.keyPrefix + key));
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.available();
    await this.client.set(this.keyPrefix + key, value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async setMany(entries: [string, string][], ttlMs: number): Promise<void> {
    this.available();
    if (entries.length === 0) return;
    const pipeline = this.client.pipeline();
    for (const [key, value] of entries) pipeline.set(this.keyPrefix + key, value, 'PX', Math.max(1, Math.round(ttlMs)));
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed?.[0]) throw failed[0];
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.available();
    const result = await this.client.set(this.keyPrefix + key, value, 'PX', Math.max(1, Math.round(ttlMs)), 'NX');
    return result === 'OK';
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    this.available();
    const deleted = await this.client.eval(DELETE_IF_EQUALS, 1, this.keyPrefix + key, value);
    return deleted === 1;
  }

  async extendIfEquals(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.available();
    const extended = await this.client.eval(EXTEND_IF_EQUALS, 1, this.keyPrefix + key, value, Math.max(1, Math.round(ttlMs)));
    return extended === 1;
  }

  async delete(...keys: string[]): Promise<void> {
    this.available();
    if (keys.length > 0) await this.client.del(...keys.map((key) => this.keyPrefix + key));
  }

  async publish(channel: string, message: string): Promise<void> {
    this.available();
    await this.client.publish(this.keyPrefix + channel, message);
  }

  subscribe(channel: string, onMessage: (message: string) => void, onLive: (live: boolean) => void): void {
    this.subscriber ??= subscriberOf(this.client.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null }));
    listen(this.subscriber, this.keyPrefix + channel, onMessage, onLive);
  }

  async ping(): Promise<void> {
    this.available();
    await this.client.ping();
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

/** A connection used for subscriptions: errors surface as liveness, not as printed warnings. */
export function subscriberOf<T extends Redis | Cluster>(connection: T): T {
  connection.on('error', () => {});
  return connection;
}

/**
 * Subscribes `connection` to `channel`: messages go to `onMessage`; liveness follows the
 * connection (ioredis subscribes again by itself after a reconnect, and 'ready' follows that).
 */
export function listen(connection: Redis | Cluster, channel: string, onMessage: (message: string) => void, onLive: (live: boolean) => void): void {
  connection.on('message', (received: string, message: string) => {
    if (received === channel) onMessage(message);
  });
  for (const event of ['close', 'reconnecting', 'end']) connection.on(event, () => onLive(false));
  connection.on('ready', () => onLive(true));
  connection.subscribe(channel).then(
    () => onLive(connection.status === 'ready'),
    () => onLive(false),
  );
}
