import { Cluster } from 'ioredis';
import { DELETE_IF_EQUALS, EXTEND_IF_EQUALS, listen, subscriberOf } from './redis.js';
import type { SharedStore } from './store.js';

/** A seed node of the cluster; the client learns the others (and who serves which slot) from it. */
export interface ClusterSeed {
  host: string;
  port: number;
}

/** Timeouts of the cluster store; the defaults are the single-node store's. */
export interface RedisClusterStoreOptions {
  /** A command that gets no answer within this long fails. */
  commandTimeoutMs?: number;
  /** Opening a connection to a node gives up after this long. */
  connectTimeoutMs?: number;
}

/** The number of hash slots of a Redis Cluster. */
const SLOTS = 16384;

/**
 * The shared store on a Redis Cluster (REDIS_CLUSTER_NODES), behind the same interface as the
 * single-node store. Keys the gateway uses together carry one hash tag (`token:{h}`,
 * `lock:token:{h}`, `dead:token:{h}`, `recheck:token:{h}`; `user:{id}`), so they live in one slot;
 * the key prefix is refused if it holds a brace, which would override or split those tags.
 *
 * Commands over several keys are made slot-safe: keys are grouped by hash slot, one command per
 * slot (MGET, DEL; SET per key, since SET has no multi-key form with an expiry), all sent at once.
 * Auto-pipelining batches the commands bound for one node into one write, so reading the users of
 * a `users(ids:)` batch costs about one round trip per master, never a CROSSSLOT error.
 *
 * Like the single-node store it fails fast: commands wait for the first connection at most the
 * command timeout, are refused at once while the cluster is reconnecting (no offline queue), and
 * each gets the command timeout per node.
 */
export class RedisClusterStore implements SharedStore {
  readonly client: Cluster;
  /** A second connection for subscriptions (a subscribed connection takes no other command). */
  private subscriber: Cluster | undefined;
  private readonly commandTimeoutMs: number;
  private firstReady: Promise<void> | undefined;

  constructor(
    seeds: readonly ClusterSeed[],
    private readonly keyPrefix: string,
    options: RedisClusterStoreOptions = {},
  ) {
    if (seeds.length === 0) throw new Error('a Redis Cluster needs at least one seed node');
    if (/[{}]/.test(keyPrefix)) throw new Error('the key prefix of a Redis Cluster store must not contain `{` or `}` (it would break the hash tags)');
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    this.client = new Cluster(
      seeds.map(({ host, port }) => ({ host, port })),
      {
        lazyConnect: false,
        // Commands are only sent once the cluster is ready (see `ready`); one that races a lost
        // connection fails instead of waiting in a queue for the next reconnect.
        enableOfflineQueue: false,
        enableAutoPipelining: true,
        scaleReads: 'master',
        // MOVED/ASK during resharding and retries after a failover or CLUSTERDOWN: bounded, so a
        // command gives up within about a second instead of riding out a long outage.
        maxRedirections: 8,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        slotsRefreshTimeout: 1000,
        slotsRefreshInterval: 5000,
        clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1000),
        redisOptions: {
          connectTimeout: options.connectTimeoutMs ?? 2000,
          commandTimeout: this.commandTimeoutMs,
          maxRetriesPerRequest: 1,
        },
      },
    );
    // Failures surface as failed commands; without listeners ioredis would print them.
    this.client.on('error', () => {});
    this.client.on('node error', () => {});
  }

  async get(key: string): Promise<string | null> {
    await this.ready();
    return this.client.get(this.keyPrefix + key);
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    await this.ready();
    const values: (string | null)[] = new Array<string | null>(keys.length).fill(null);
    await Promise.all(
      [...this.bySlot(keys)].map(async (indexes) => {
        const slotKeys = indexes.map((index) => this.keyPrefix + keys[index]!);
        const found = slotKeys.length === 1 ? [await this.client.get(slotKeys[0]!)] : await this.client.mget(slotKeys);
        indexes.forEach((index, position) => (values[index] = found[position] ?? null));
      }),
    );
    return values;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.ready();
    await this.client.set(this.keyPrefix + key, value, 'PX', lifetime(ttlMs));
  }

  async setMany(entries: [string, string][], ttlMs: number): Promise<void> {
    await this.ready();
    const px = lifetime(ttlMs);
    await Promise.all(entries.map(([key, value]) => this.client.set(this.keyPrefix + key, value, 'PX', px)));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    await this.ready();
    const result = await this.client.set(this.keyPrefix + key, value, 'PX', lifetime(ttlMs), 'NX');
    return result === 'OK';
  }

  async deleteIfEquals(key: string, value: string): Promise<boolean> {
    await this.ready();
    // One key: the script runs on the node that serves its slot.
    const deleted = await this.client.eval(DELETE_IF_EQUALS, 1, this.keyPrefix + key, value);
    return deleted === 1;
  }

  async extendIfEquals(key: string, value: string, ttlMs: number): Promise<boolean> {
    await this.ready();
    // One key: the script runs on the node that serves its slot.
    const extended = await this.client.eval(EXTEND_IF_EQUALS, 1, this.keyPrefix + key, value, lifetime(ttlMs));
    return extended === 1;
  }

  async delete(...keys: string[]): Promise<void> {
    await this.ready();
    await Promise.all([...this.bySlot(keys)].map((indexes) => this.client.del(...indexes.map((index) => this.keyPrefix + keys[index]!))));
  }

  /**
   * Readiness: the client is connected and every master it knows answers `CLUSTER INFO` with
   * `cluster_state:ok` (all slots served, no master considered failed). Rejects otherwise.
   */
  async ping(): Promise<void> {
    await this.ready();
    const masters = this.client.nodes('master');
    if (masters.length === 0) throw new Error('redis cluster: no master known');
    await Promise.all(
      masters.map(async (node) => {
        const info = await node.cluster('INFO');
        const state = /^cluster_state:(\w+)/m.exec(info)?.[1];
        if (state !== 'ok') throw new Error(`redis cluster: ${node.options.host}:${node.options.port} reports cluster_state:${state ?? '?'}`);
      }),
    );
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.ready();
    // Cluster pub/sub is broadcast: a message published on any node reaches subscribers on all.
    await this.client.publish(this.keyPrefix + channel, message);
  }

  subscribe(channel: string, onMessage: (message: string) => void, onLive: (live: boolean) => void): void {
    this.subscriber ??= subscriberOf(this.client.duplicate(undefined, { enableOfflineQueue: true }));
    listen(this.subscriber, this.keyPrefix + channel, onMessage, onLive);
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
    await this.client.quit().catch(() => this.client.disconnect());
  }

  /**
   * Resolves when the cluster can take commands. While it first connects, waits at most the command
   * timeout; while it reconnects (or after it was closed), throws at once.
   */
  private async ready(): Promise<void> {
    const status = this.client.status;
    if (status === 'ready') return;
    if (status !== 'wait' && status !== 'connecting' && status !== 'connect') throw new Error(`redis cluster is ${status}`);
    this.firstReady ??= new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        this.client.off('close', onClose);
        this.firstReady = undefined;
        if (error) reject(error);
        else resolve();
      };
      const onReady = () => settle();
      const onClose = () => settle(new Error('redis cluster is unreachable'));
      const timer = setTimeout(() => settle(new Error('redis cluster is not ready yet')), this.commandTimeoutMs);
      this.client.once('ready', onReady);
      this.client.once('close', onClose);
    });
    return this.firstReady;
  }

  /** Indexes of `keys` grouped by the hash slot of their prefixed name. */
  private bySlot(keys: string[]): IterableIterator<number[]> {
    const groups = new Map<number, number[]>();
    keys.forEach((key, index) => {
      const slot = hashSlot(this.keyPrefix + key);
      const group = groups.get(slot);
      if (group) group.push(index);
      else groups.set(slot, [index]);
    });
    return groups.values();
  }
}

/**
 * The Redis Cluster hash slot of a key: CRC16 (XMODEM) of its hash tag, modulo 16384. The tag is
 * the text between the first `{` and the first `}` after it, when that is not empty; otherwise the
 * whole key counts.
 */
export function hashSlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]! << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % SLOTS;
}

function lifetime(ttlMs: number): number {
  return Math.max(1, Math.round(ttlMs));
}
