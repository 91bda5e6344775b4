import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { hashSlot, RedisClusterStore, type ClusterSeed } from '../src/store/redis-cluster.js';
import { Sealer } from '../src/store/sealing.js';
import { TokenStore } from '../src/tokens/token-store.js';
import { clusterAvailable } from './helpers/harness.js';
import { freeLoopbackPort } from './helpers/ports.js';
import { clusterNodeArgs, findOnPath } from './setup/redis.js';

// The shared store on the run's real 3-master Redis Cluster (test/setup/redis.ts): keys that belong
// together share a slot, multi-key commands work when their keys live on different masters, locks
// keep their compare-and-delete, and a cluster that does not answer fails commands fast.

const PREFIX = `test:redis-cluster-store:${randomUUID()}:`;

function seeds(): ClusterSeed[] {
  return inject('redisClusterNodes')
    .split(',')
    .map((seed) => ({ host: seed.slice(0, seed.lastIndexOf(':')), port: Number(seed.slice(seed.lastIndexOf(':') + 1)) }));
}

/** How long `work` took to settle, and whether it rejected. */
async function timed(work: () => Promise<unknown>): Promise<{ ms: number; rejected: boolean }> {
  const started = Date.now();
  const rejected = await work().then(
    () => false,
    () => true,
  );
  return { ms: Date.now() - started, rejected };
}

describe.skipIf(!clusterAvailable())('RedisClusterStore on a real cluster', () => {
  let store: RedisClusterStore;
  let raw: Cluster;
  /** Slot → the master serving it (`host:port`), from CLUSTER SLOTS. */
  let masterBySlot: string[];

  const masterOf = (key: string) => masterBySlot[hashSlot(key)]!;

  beforeAll(async () => {
    store = new RedisClusterStore(seeds(), PREFIX);
    raw = new Cluster(seeds(), { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } });
    await raw.connect();
    masterBySlot = [];
    for (const [from, to, master] of await raw.cluster('SLOTS')) {
      for (let slot = from; slot <= to; slot++) masterBySlot[slot] = `${master?.[0]}:${master?.[1]}`;
    }
  });

  afterAll(async () => {
    if (raw) {
      for (const master of raw.nodes('master')) {
        const keys = await master.keys(`${PREFIX}*`);
        // Each key alone: a master may hold keys of several slots.
        await Promise.all(keys.map((key) => master.del(key)));
      }
      raw.disconnect();
    }
    await store?.close();
  });

  it('runs on a healthy cluster whose slots are all served', async () => {
    expect(masterBySlot.filter(Boolean)).toHaveLength(16384);
    const masters = new Set(masterBySlot);
    expect(masters.size).toBe(raw.nodes('master').length);
    if (inject('redisClusterSource') === 'private') {
      expect(masters.size).toBe(3);
      for (const master of masters) expect(master).toMatch(/^127\.0\.0\.1:\d+$/);
    }
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('computes slots as the cluster does (CLUSTER KEYSLOT)', async () => {
    const keys = [
      ...['token', 'lock:token', 'dead:token', 'recheck:token'].map((family) => `${PREFIX}${family}:{Ab_-09xyz}`),
      `${PREFIX}user:{google-oauth2|111199914890750704174}`,
      `${PREFIX}user:{github|1234567}`,
      `${PREFIX}auth0:management-token`,
      `${PREFIX}lock:auth0:management-token`,
      'no tag at all',
      'foo{}{bar}',
      'foo{{bar}}zap',
      'foo}bar',
      'user}{x}',
      'user:{caf\u00e9}',
      ...Array.from({ length: 200 }, (_, i) => `${randomUUID()}${i % 3 === 0 ? `{${i}}` : ''}\u{1f600}`),
    ];
    const slots = await Promise.all(keys.map((key) => raw.cluster('KEYSLOT', key)));
    expect(keys.map(hashSlot)).toEqual(slots);
  });

  it("keeps each identity's record, lock, dead and recheck markers in one slot; users one slot each", async () => {
    const tokens = new TokenStore(store, Sealer.ephemeral());
    const subjects = Array.from({ length: 50 }, (_, i) => `google-oauth2|${1000 + i}|google-oauth2`);
    const identitySlots = new Set<number>();
    for (const subject of subjects) {
      const keys = Object.values(tokens.keys(subject)).map((key) => PREFIX + key);
      const slots = await Promise.all(keys.map((key) => raw.cluster('KEYSLOT', key)));
      expect(new Set(slots).size, keys.join(', ')).toBe(1);
      identitySlots.add(slots[0]!);
    }
    // …and different identities spread over the cluster rather than piling on one slot.
    expect(identitySlots.size).toBeGreaterThan(40);
  });

  it('reads and writes users on every master at once: setMany, getMany (order, absent keys, duplicates)', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `user:{github|${5_000_000 + i}}`);
    expect(new Set(keys.map((key) => masterOf(PREFIX + key))).size).toBe(new Set(masterBySlot).size);
    await store.setMany(
      keys.map((key, i): [string, string] => [key, `value-${i}`]),
      60_000,
    );
    const asked = [keys[7]!, 'user:{nobody}', keys[0]!, keys[29]!, keys[7]!, ...keys.slice(10, 20)];
    expect(await store.getMany(asked)).toEqual(['value-7', null, 'value-0', 'value-29', 'value-7', ...Array.from({ length: 10 }, (_, i) => `value-${10 + i}`)]);
    expect(await store.getMany([])).toEqual([]);
    // Each key with its lifetime, under the prefix.
    const ttls = await Promise.all(keys.map((key) => raw.pttl(PREFIX + key)));
    for (const ttl of ttls) {
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
  });

  it('reads keys that share a slot together (a token record and its dead marker)', async () => {
    const keys = new TokenStore(store, Sealer.ephemeral()).keys('bitbucket|alan|bitbucket');
    await store.set(keys.record, 'sealed', 60_000);
    await store.set(keys.dead, 'invalid_grant', 60_000);
    expect(await store.getMany([keys.record, keys.dead, keys.recheck])).toEqual(['sealed', 'invalid_grant', null]);
  });

  it('deletes keys of several slots and masters in one call, and only those', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `user:{auth0|delete-${i}}`);
    const kept = 'user:{auth0|kept}';
    await store.setMany(
      [...keys, kept].map((key): [string, string] => [key, 'x']),
      60_000,
    );
    expect(new Set(keys.map((key) => masterOf(PREFIX + key))).size).toBeGreaterThan(1);
    await store.delete(...keys);
    expect(await store.getMany([...keys, kept])).toEqual([...keys.map(() => null), 'x']);
    await store.delete();
  });

  it('takes a lock once and frees it only for its holder (SET NX, compare-and-delete)', async () => {
    const lock = 'lock:token:{lock-test}';
    expect(await store.setIfAbsent(lock, 'owner-a', 5_000)).toBe(true);
    expect(await store.setIfAbsent(lock, 'owner-b', 5_000)).toBe(false);
    expect(await store.deleteIfEquals(lock, 'owner-b')).toBe(false);
    expect(await store.get(lock)).toBe('owner-a');
    expect(await store.deleteIfEquals(lock, 'owner-a')).toBe(true);
    expect(await store.get(lock)).toBeNull();
    expect(await store.setIfAbsent(lock, 'owner-b', 5_000)).toBe(true);
    const ttl = await raw.pttl(PREFIX + lock);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });

  it('extends a lease only for its holder, and not once the key is gone (compare-and-extend)', async () => {
    const lock = 'lock:token:{extend-test}';
    expect(await store.setIfAbsent(lock, 'owner-a', 1_000)).toBe(true);
    expect(await store.extendIfEquals(lock, 'owner-b', 60_000)).toBe(false);
    expect(await raw.pttl(PREFIX + lock)).toBeLessThanOrEqual(1_000);
    expect(await store.extendIfEquals(lock, 'owner-a', 60_000)).toBe(true);
    expect(await raw.pttl(PREFIX + lock)).toBeGreaterThan(50_000);
    await store.delete(lock);
    expect(await store.extendIfEquals(lock, 'owner-a', 60_000)).toBe(false);
  });

  it('delivers published messages to a subscription on the cluster, which reports itself live', async () => {
    const messages: string[] = [];
    const live: boolean[] = [];
    store.subscribe(
      'chan:cluster',
      (message) => messages.push(message),
      (value) => live.push(value),
    );
    // Published until one arrives: a message published before the SUBSCRIBE took effect is lost.
    await vi.waitFor(
      async () => {
        await store.publish('chan:cluster', 'hello');
        expect(messages.length).toBeGreaterThan(0);
      },
      { timeout: 5_000, interval: 50 },
    );
    expect(new Set(messages)).toEqual(new Set(['hello']));
    expect(live.at(-1)).toBe(true);
  });

  it('serves the first commands once it connected: they wait for the cluster, never longer than the command timeout', async () => {
    const fresh = new RedisClusterStore(seeds(), PREFIX);
    const waitedFor = new RedisClusterStore(seeds(), PREFIX);
    try {
      // Sent at once, while the client is still connecting…
      expect(fresh.client.status).toBe('connecting');
      const first = fresh.get('user:{first}');
      // …and while it has connected but not yet checked the cluster is ready.
      const second = new Promise((resolve, reject) => fresh.client.once('connect', () => void fresh.getMany(['user:{first}']).then(resolve, reject)));
      expect(await first).toBeNull();
      expect(await second).toEqual([null]);

      // Waiting left no listener behind: as many as on a store that got ready without a command.
      if (waitedFor.client.status !== 'ready') await once(waitedFor.client, 'ready');
      for (const event of ['ready', 'close']) expect(fresh.client.listenerCount(event), event).toBe(waitedFor.client.listenerCount(event));
    } finally {
      await fresh.close();
      await waitedFor.close();
    }
  });

  it('refuses commands once closed, saying so', async () => {
    const closed = new RedisClusterStore(seeds(), PREFIX);
    await closed.ping();
    await closed.close();
    await expect(closed.get('user:{a}')).rejects.toThrow(/^redis cluster is (disconnecting|close|end)$/);
  });

  it('refuses a key prefix with a brace (it would override or split the hash tags)', () => {
    expect(() => new RedisClusterStore(seeds(), 'app{1}:')).toThrow(/must not contain/);
    expect(() => new RedisClusterStore(seeds(), 'app{')).toThrow(/must not contain/);
  });
});

describe('RedisClusterStore when the cluster cannot be reached', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it('fails a first command once connecting fails, and leaves no listener behind', async () => {
    const store = new RedisClusterStore([{ host: '127.0.0.1', port: await freeLoopbackPort() }], PREFIX);
    cleanups.push(() => store.close());
    await expect(store.get('user:{a}')).rejects.toThrow('redis cluster is unreachable');
    expect(store.client.listenerCount('ready')).toBe(0);
  });

  it('fails a first command after the command timeout when the seed accepts but never answers', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket.on('error', () => {})));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const address = silent.address();
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const port = typeof address === 'object' && address ? address.port : 0;
    // A command timeout well below the slots refresh timeout (1 s), so the wait ends by the former.
    const store = new RedisClusterStore([{ host: '127.0.0.1', port }], PREFIX, { commandTimeoutMs: 200 });
    cleanups.push(() => store.close());
    await expect(store.get('user:{a}')).rejects.toThrow('redis cluster is not ready yet');
    expect(store.client.listenerCount('ready')).toBe(0);
  });

  it('reconnects with a backoff growing by 100 ms per failed attempt, at most 1 s', async () => {
    const store = new RedisClusterStore([{ host: '127.0.0.1', port: await freeLoopbackPort() }], PREFIX);
    cleanups.push(() => store.close());
    const backoff = store.client.options.clusterRetryStrategy;
    expect([1, 2, 5, 10, 30].map((attempt) => backoff?.call(store.client, attempt))).toEqual([100, 200, 500, 1000, 1000]);
  });

  it('needs a seed node', () => {
    expect(() => new RedisClusterStore([], PREFIX)).toThrow('a Redis Cluster needs at least one seed node');
  });
});

describe('RedisClusterStore when the cluster does not answer', () => {
  let down: RedisClusterStore;
  beforeAll(async () => {
    down = new RedisClusterStore(
      [
        { host: '127.0.0.1', port: await freeLoopbackPort() },
        { host: '127.0.0.1', port: await freeLoopbackPort() },
      ],
      PREFIX,
    );
  });
  afterAll(async () => down?.close());

  it('fails every operation fast, while connecting and while reconnecting', async () => {
    const operations: [string, () => Promise<unknown>][] = [
      ['get', () => down.get('user:{a}')],
      ['getMany', () => down.getMany(['user:{a}', 'user:{b}'])],
      ['set', () => down.set('user:{a}', 'x', 1000)],
      ['setMany', () => down.setMany([['user:{a}', 'x']], 1000)],
      ['setIfAbsent', () => down.setIfAbsent('lock:token:{a}', 'x', 1000)],
      ['deleteIfEquals', () => down.deleteIfEquals('lock:token:{a}', 'x')],
      ['delete', () => down.delete('user:{a}', 'user:{b}')],
      ['ping', () => down.ping()],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [name, operation] of operations) {
        const { ms, rejected } = await timed(operation);
        expect(rejected, name).toBe(true);
        expect(ms, name).toBeLessThan(1_500);
      }
    }
  });
});

describe.skipIf(!findOnPath('redis-server'))('RedisClusterStore readiness on a one-node cluster of its own', () => {
  it('reports a master whose cluster state is no longer ok, naming it', async () => {
    const [port, busPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
    const dir = mkdtempSync(path.join(tmpdir(), 'gateway-cluster-state-'));
    const node = spawn(
      findOnPath('redis-server')!,
      [...clusterNodeArgs(port, dir, 'nodes.conf'), '--cluster-port', String(busPort), '--cluster-announce-ip', '127.0.0.1'],
      { stdio: 'ignore' },
    );
    const admin = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    admin.on('error', () => {});
    let store: RedisClusterStore | undefined;
    try {
      // One master serving every slot (announcing its address, which it cannot learn from a peer):
      // the cluster turns ok by itself, after Redis's own delay of about 2 s.
      await vi.waitFor(() => admin.cluster('ADDSLOTSRANGE', 0, 16383), { timeout: 10_000, interval: 100 });
      store = new RedisClusterStore([{ host: '127.0.0.1', port }], PREFIX);
      const ready = store;
      await vi.waitFor(() => ready.ping(), { timeout: 15_000, interval: 200 });

      // Slots no longer served: the node reports cluster_state:fail, and readiness says so.
      await admin.cluster('DELSLOTSRANGE', 0, 99);
      await vi.waitFor(() => expect(ready.ping()).rejects.toThrow(`redis cluster: 127.0.0.1:${port} reports cluster_state:fail`), {
        timeout: 10_000,
        interval: 100,
      });
    } finally {
      await store?.close();
      admin.disconnect();
      node.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
