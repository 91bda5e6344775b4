import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { RedisStore } from '../src/store/redis.js';
import { freeLoopbackPort } from './helpers/ports.js';

// The single-node Redis store on the run's real Redis (test/setup/redis.ts): what each operation
// gives back at its edges (no keys, a refused write, a lock no longer ours), pub/sub that delivers
// a channel's messages only to that channel, liveness that follows the connection, commands refused
// at once while the connection is lost, and close() that lets go of every connection, also when
// Redis stopped answering. The connection faults go through a loopback relay the test controls.

const PREFIX = `test:store.redis:${randomUUID()}:`;

/**
 * A loopback TCP relay to the run's Redis: counts the connections open through it, can cut them
 * all (a network blip) or stop relaying while keeping them open (a Redis that no longer answers).
 */
class Relay {
  private readonly pairs = new Set<[Socket, Socket]>();
  private silent = false;

  private constructor(private readonly server: Server) {}

  static async start(redisUrl: string): Promise<Relay> {
    const target = new URL(redisUrl);
    const server = createServer();
    const relay = new Relay(server);
    server.on('connection', (client) => {
      const upstream = createConnection(Number(target.port), target.hostname);
      const pair: [Socket, Socket] = [client, upstream];
      relay.pairs.add(pair);
      const drop = () => {
        relay.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      for (const socket of pair) socket.on('close', drop).on('error', drop);
      client.on('data', (chunk: Buffer) => relay.silent || upstream.write(chunk));
      upstream.on('data', (chunk: Buffer) => relay.silent || client.write(chunk));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return relay;
  }

  get url(): string {
    const address = this.server.address();
    return `redis://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  /** Connections currently open through the relay. */
  get open(): number {
    return this.pairs.size;
  }

  /** Drops every open connection, as a network blip does; new ones are relayed again. */
  cut(): void {
    for (const [client] of this.pairs) client.destroy();
  }

  /** Keeps the connections open but relays nothing more: Redis seems to hang. */
  hang(): void {
    this.silent = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A subscription's liveness reports and messages, in order. */
function recorder() {
  const live: boolean[] = [];
  const messages: string[] = [];
  return { live, messages, onMessage: (message: string) => messages.push(message), onLive: (value: boolean) => live.push(value) };
}

/** The store's next 'reconnecting' (events.once would reject on the connection errors before it). */
function reconnecting(store: RedisStore): Promise<void> {
  return new Promise((resolve) => store.client.once('reconnecting', () => resolve()));
}

describe('RedisStore on a real Redis', () => {
  let store: RedisStore;
  let raw: Redis;

  beforeAll(() => {
    store = new RedisStore(inject('redisUrl'), PREFIX);
    raw = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    const keys = await raw.keys(`${PREFIX}*`);
    if (keys.length > 0) await raw.del(...keys);
    raw.disconnect();
    await store?.close();
  });

  it('reads no keys as no values, and several keys in their order', async () => {
    expect(await store.getMany([])).toEqual([]);
    await store.setMany(
      [
        ['user:a', 'A'],
        ['user:b', 'B'],
      ],
      60_000,
    );
    expect(await store.getMany(['user:b', 'user:none', 'user:a'])).toEqual(['B', null, 'A']);
  });

  it('fails setMany when Redis refuses a write, instead of passing it off as stored', async () => {
    await expect(store.setMany([], 60_000)).resolves.toBeUndefined();
    await expect(store.setMany([['user:refused', 'x']], Number.NaN)).rejects.toThrow(/not an integer/);
    expect(await raw.exists(`${PREFIX}user:refused`)).toBe(0);
  });

  it('extends a lease only for its holder, and not once the key is gone', async () => {
    const lock = 'lock:extend';
    expect(await store.setIfAbsent(lock, 'owner-a', 1_000)).toBe(true);

    expect(await store.extendIfEquals(lock, 'owner-b', 60_000)).toBe(false);
    expect(await raw.pttl(PREFIX + lock)).toBeLessThanOrEqual(1_000);

    expect(await store.extendIfEquals(lock, 'owner-a', 60_000)).toBe(true);
    expect(await raw.pttl(PREFIX + lock)).toBeGreaterThan(50_000);

    await store.delete(lock);
    expect(await store.extendIfEquals(lock, 'owner-a', 60_000)).toBe(false);
    expect(await raw.exists(PREFIX + lock)).toBe(0);
  });

  it('deletes several keys at once and only those; deleting no keys is a no-op', async () => {
    await store.setMany(
      [
        ['del:1', '1'],
        ['del:2', '2'],
        ['del:kept', 'k'],
      ],
      60_000,
    );
    await store.delete('del:1', 'del:2');
    expect(await store.getMany(['del:1', 'del:2', 'del:kept'])).toEqual([null, null, 'k']);
    await expect(store.delete()).resolves.toBeUndefined();
    expect(await store.get('del:kept')).toBe('k');
  });

  it("delivers a channel's messages to that channel's subscribers only", async () => {
    const alpha = recorder();
    const beta = recorder();
    store.subscribe('chan:alpha', alpha.onMessage, alpha.onLive);
    store.subscribe('chan:beta', beta.onMessage, beta.onLive);
    await vi.waitFor(() => expect([alpha.live.at(-1), beta.live.at(-1)]).toEqual([true, true]), { timeout: 5_000 });

    await store.publish('chan:alpha', 'for alpha');
    await store.publish('chan:beta', 'for beta');
    // One connection delivers in order: once beta has its message, alpha's was delivered before it.
    await vi.waitFor(() => expect(beta.messages).toEqual(['for beta']), { timeout: 5_000 });
    expect(alpha.messages).toEqual(['for alpha']);
  });
});

describe('RedisStore when the connection fails', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  async function relayed(): Promise<{ relay: Relay; store: RedisStore }> {
    const relay = await Relay.start(inject('redisUrl'));
    cleanups.push(() => relay.close());
    const store = new RedisStore(relay.url, PREFIX);
    cleanups.push(() => store.close());
    return { relay, store };
  }

  it('closes both its connections (commands and subscriptions), and refuses commands afterwards', async () => {
    const { relay, store } = await relayed();
    const sub = recorder();
    store.subscribe('chan:close', sub.onMessage, sub.onLive);
    await store.set('close:k', 'v', 60_000);
    await vi.waitFor(() => expect(sub.live.at(-1)).toBe(true), { timeout: 5_000 });
    expect(relay.open).toBe(2);

    await store.close();
    await vi.waitFor(() => expect(relay.open).toBe(0), { timeout: 3_000 });
    expect(sub.live.at(-1)).toBe(false);
    await expect(store.get('close:k')).rejects.toThrow('redis is end');
  });

  it('closes both its connections also when Redis stopped answering', async () => {
    const { relay, store } = await relayed();
    const sub = recorder();
    store.subscribe('chan:hang', sub.onMessage, sub.onLive);
    await store.ping();
    await vi.waitFor(() => expect(sub.live.at(-1)).toBe(true), { timeout: 5_000 });
    expect(relay.open).toBe(2);

    relay.hang();
    // QUIT gets no answer: each connection gives up on it after the command timeout and drops.
    await store.close();
    await vi.waitFor(() => expect(relay.open).toBe(0), { timeout: 3_000 });
  });

  it('refuses commands at once while reconnecting after a blip, then serves and delivers again', async () => {
    const { relay, store } = await relayed();
    const sub = recorder();
    store.subscribe('chan:blip', sub.onMessage, sub.onLive);
    await store.set('blip:k', 'v', 60_000);
    await vi.waitFor(() => expect(sub.live.at(-1)).toBe(true), { timeout: 5_000 });
    const reportsBefore = sub.live.length;

    const duringReconnect = reconnecting(store).then(() => store.get('blip:k'));
    relay.cut();
    await expect(duringReconnect).rejects.toThrow('redis is reconnecting');

    // Both connections come back by themselves; the subscription reports live again on its own.
    await vi.waitFor(async () => expect(await store.get('blip:k')).toBe('v'), { timeout: 5_000 });
    await vi.waitFor(() => expect(sub.live.slice(reportsBefore)).toContain(false), { timeout: 5_000 });
    await vi.waitFor(() => expect(sub.live.at(-1)).toBe(true), { timeout: 5_000 });
    await store.publish('chan:blip', 'after the blip');
    await vi.waitFor(() => expect(sub.messages).toEqual(['after the blip']), { timeout: 5_000 });
  });

  it('with no Redis to reach: retries with a growing backoff, refuses commands, never reports a subscription live', async () => {
    const store = new RedisStore(`redis://127.0.0.1:${await freeLoopbackPort()}`, PREFIX);
    cleanups.push(() => store.close());
    const delays: number[] = [];
    store.client.on('reconnecting', (delay: number) => delays.push(delay));
    const sub = recorder();
    store.subscribe('chan:nowhere', sub.onMessage, sub.onLive);

    await reconnecting(store);
    await expect(store.get('k')).rejects.toThrow('redis is reconnecting');
    await expect(store.ping()).rejects.toThrow('redis is reconnecting');
    // 'reconnecting' carries the wait before the next attempt: 100 ms more after each failure.
    await vi.waitFor(() => expect(delays.length).toBeGreaterThanOrEqual(3), { timeout: 5_000 });
    expect(delays.slice(0, 3)).toEqual([100, 200, 300]);

    // The pending SUBSCRIBE times out and the connection ends: neither is liveness.
    await store.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sub.live.length).toBeGreaterThan(0);
    expect(sub.live).not.toContain(true);
  });
});
