import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { hashSlot } from '../src/store/redis-cluster.js';
import { clusterNodeArgs, findOnPath } from './setup/redis.js';
import { clusterAvailable, postGraphQL, rawUser, runGateway, startHarness, type Harness, type RunningGateway } from './helpers/harness.js';
import { freeLoopbackPort } from './helpers/ports.js';

// The gateway on a real 3-master Redis Cluster (REDIS_CLUSTER_NODES): a batch of users whose cache
// keys live in different slots, on different masters, is served and cached (the multi-key reads
// and writes are slot-safe), and /readyz follows the cluster: 200 while it is healthy, 503 when it
// does not answer or reports cluster_state other than ok.

const USERS_QUERY = 'query ($ids: [ID!]!) { users(ids: $ids) { id email } }';

async function readyz(gateway: RunningGateway): Promise<number> {
  const response = await fetch(`${new URL(gateway.url).origin}/readyz`);
  await response.body?.cancel();
  return response.status;
}

/** Polls /readyz until it answers `status`; the last status seen otherwise. */
async function readyzBecomes(gateway: RunningGateway, status: number, withinMs = 10_000): Promise<number> {
  const deadline = Date.now() + withinMs;
  let seen = await readyz(gateway);
  while (seen !== status && Date.now() < deadline) {
    await sleep(100);
    seen = await readyz(gateway);
  }
  return seen;
}

function seeds(nodes: string): { host: string; port: number }[] {
  return nodes.split(',').map((seed) => ({ host: seed.slice(0, seed.lastIndexOf(':')), port: Number(seed.slice(seed.lastIndexOf(':') + 1)) }));
}

describe.skipIf(!clusterAvailable())('users(ids:) on a Redis Cluster', () => {
  let h: Harness;
  let raw: Cluster;
  let partner: string;
  /** Slot → the master serving it. */
  const masterBySlot: string[] = [];
  const ids = Array.from({ length: 12 }, (_, i) => `github|${3_000_000 + i}`);
  const unknown = ['auth0|nobody-1', 'auth0|nobody-2', 'auth0|nobody-3'];
  const cacheKey = (id: string) => `${h.env.REDIS_KEY_PREFIX}user:{${id}}`;

  function managementCalls() {
    const tenant = h.sandbox.tenant;
    return { search: tenant.count('searchUsers'), get: tenant.count('getUser') };
  }

  beforeAll(async () => {
    h = await startHarness({ redis: 'cluster' });
    partner = await h.token('partner-app@clients', 'read:users');
    ids.forEach((id, i) => h.sandbox.tenant.addUser(rawUser(id, { user_id: 3_000_000 + i })));
    // One freshly created account the search index has not caught up with: read with a GET.
    h.sandbox.tenant.unindexed.add(ids[5]!);
    raw = new Cluster(seeds(h.env.REDIS_CLUSTER_NODES!), { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } });
    await raw.connect();
    for (const [from, to, master] of await raw.cluster('SLOTS')) {
      for (let slot = from; slot <= to; slot++) masterBySlot[slot] = `${master?.[0]}:${master?.[1]}`;
    }
  });
  afterAll(async () => {
    if (raw) {
      for (const master of raw.nodes('master')) {
        const keys = await master.keys(`${h.env.REDIS_KEY_PREFIX}*`);
        await Promise.all(keys.map((key) => master.del(key)));
      }
      raw.disconnect();
    }
    await h?.close();
  });

  it('asks for users whose cache keys are in different slots, on every master', () => {
    const keys = [...ids, ...unknown].map(cacheKey);
    expect(new Set(keys.map(hashSlot)).size).toBe(keys.length);
    expect(new Set(keys.map((key) => masterBySlot[hashSlot(key)])).size).toBe(new Set(masterBySlot).size);
  });

  it('serves the batch with one search, a GET for what search missed and a GET per unknown id', async () => {
    const before = managementCalls();
    const answer = await h.query<{ users: ({ id: string; email: string } | null)[] }>(partner, USERS_QUERY, { ids: [...ids, ...unknown] });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.users.map((user) => user?.id ?? null)).toEqual([...ids, ...unknown.map(() => null)]);
    const after = managementCalls();
    expect(after.search - before.search).toBe(1);
    expect(after.get - before.get).toBe(1 + unknown.length);
  });

  it('cached every user (and every unknown id as missing) in its own slot, with its lifetime', async () => {
    const keys = [...ids, ...unknown].map(cacheKey);
    const values = await Promise.all(keys.map((key) => raw.get(key)));
    ids.forEach((id, i) => expect(JSON.parse(values[i]!)).toMatchObject({ id }));
    expect(values.slice(ids.length)).toEqual(unknown.map(() => 'null'));
    for (const ttl of await Promise.all(keys.map((key) => raw.pttl(key)))) {
      expect(ttl).toBeGreaterThan(0);
      // USER_CACHE_TTL_SECONDS (30) plus USER_STALE_GRACE_SECONDS (300): a stale copy answers while Auth0 fails.
      expect(ttl).toBeLessThanOrEqual(330_000);
    }
  });

  it('answers the same batch from the cache, on this instance and another, without calling Auth0', async () => {
    const other = await h.startGateway();
    const before = managementCalls();
    for (const url of [h.main.url, other.url]) {
      const answer = await postGraphQL<{ users: ({ id: string } | null)[] }>(url, partner, USERS_QUERY, { ids: [...unknown, ...ids].reverse() });
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.users.map((user) => user?.id ?? null)).toEqual([...unknown.map(() => null), ...ids].reverse());
    }
    expect(managementCalls()).toEqual(before);
  });

  it('deletes the keys of several users across slots at once when records are not cached (USER_CACHE_TTL_SECONDS=0)', async () => {
    const prefix = `${h.env.REDIS_KEY_PREFIX}uncached:`;
    const uncached = await h.startGateway({ USER_CACHE_TTL_SECONDS: '0', USER_MISSING_TTL_SECONDS: '30', REDIS_KEY_PREFIX: prefix });
    const found = Array.from({ length: 6 }, (_, i) => `github|${3_100_000 + i}`);
    const missing = Array.from({ length: 3 }, (_, i) => `github|${3_200_000 + i}`);
    found.forEach((id, i) => h.sandbox.tenant.addUser(rawUser(id, { user_id: 3_100_000 + i })));
    const key = (id: string) => `${prefix}user:{${id}}`;
    expect(new Set(found.map((id) => masterBySlot[hashSlot(key(id))])).size).toBeGreaterThan(1);
    // Leftover records of an earlier configuration: not believed with the cache off, and deleted
    // (one DEL per slot) when the search finds those users.
    await Promise.all(found.map((id) => raw.set(key(id), JSON.stringify({ id, email: 'stale@example.com' }), 'PX', 60_000)));

    const answer = await postGraphQL<{ users: ({ id: string; email: string } | null)[] }>(uncached.url, partner, USERS_QUERY, { ids: [...found, ...missing] });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.users.map((user) => user?.id ?? null)).toEqual([...found, ...missing.map(() => null)]);
    expect(answer.data?.users.some((user) => user?.email === 'stale@example.com')).toBe(false);
    expect(await Promise.all(found.map((id) => raw.exists(key(id))))).toEqual(found.map(() => 0));
    // The unknown ids are remembered as missing, each in its own slot.
    expect(await Promise.all(missing.map((id) => raw.get(key(id))))).toEqual(missing.map(() => 'null'));

    // Once they exist, `me` reads each fresh and forgets its remembered miss.
    missing.forEach((id, i) => h.sandbox.tenant.addUser(rawUser(id, { user_id: 3_200_000 + i })));
    for (const id of missing) {
      const me = await postGraphQL<{ me: { id: string } }>(uncached.url, await h.token(id), '{ me { id } }');
      expect(me.data?.me.id).toBe(id);
    }
    expect(await Promise.all(missing.map((id) => raw.exists(key(id))))).toEqual(missing.map(() => 0));
    expect(uncached.logs.filter((line) => /user_cache_(read|write)_failed/.test(line))).toEqual([]);
  });

  it('never fell back from a failed cache read or write', () => {
    const lines = h.main.logs.filter((line) => /user_cache_(read|write)_failed|CROSSSLOT/.test(line));
    expect(lines).toEqual([]);
  });
});

describe.skipIf(!clusterAvailable())('/readyz on a Redis Cluster', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ redis: 'cluster' });
  });
  afterAll(async () => h?.close());

  it('answers 200 while the cluster is healthy', async () => {
    expect(await readyz(h.main)).toBe(200);
    const answer = await h.query(await h.token(SEED_USERS.ada), '{ me { id } }');
    expect(answer.data).toEqual({ me: { id: SEED_USERS.ada } });
  });

  it('answers 503 quickly when no node answers, while /healthz and user reads still work', async () => {
    const down = await runGateway({ ...h.env, REDIS_CLUSTER_NODES: `127.0.0.1:${await freeLoopbackPort()},127.0.0.1:${await freeLoopbackPort()}` });
    try {
      const base = new URL(down.url).origin;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      for (let probe = 0; probe < 3; probe++) {
        const started = Date.now();
        expect(await readyz(down)).toBe(503);
        expect(Date.now() - started).toBeLessThan(2_000);
      }
      // The store fails fast: a user read degrades to the Management API instead of hanging.
      const started = Date.now();
      const answer = await postGraphQL(down.url, await h.token(SEED_USERS.linus), '{ me { id } }');
      expect(answer.data).toEqual({ me: { id: SEED_USERS.linus } });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await down.close();
    }
  });
});

// A cluster of its own, so its state can be broken without disturbing the other test files: one
// master that serves every slot until some are taken away (CLUSTER DELSLOTSRANGE), which makes the
// node report cluster_state:fail while it still answers.
describe.skipIf(!clusterAvailable() || inject('redisClusterSource') !== 'private')('/readyz follows cluster_state', () => {
  let h: Harness;
  let gateway: RunningGateway;
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  let admin: Redis;

  beforeAll(async () => {
    const bin = findOnPath('redis-server');
    if (!bin) throw new Error('redis-server is not on PATH (the run started a private cluster with it)');
    let port = 0;
    while (port === 0 || port + 10_000 > 65_535) port = await freeLoopbackPort();
    dir = mkdtempSync(join(tmpdir(), 'gateway-test-cluster-state-'));
    child = spawn(
      bin,
      // A node that never met another does not know its own address (CLUSTER SLOTS would say "").
      [...clusterNodeArgs(port, dir, 'nodes.conf'), '--cluster-announce-ip', '127.0.0.1'],
      { stdio: 'ignore' },
    );
    // The node answers once it listens; each try is a fresh connection that does not retry.
    for (let attempt = 0; ; attempt++) {
      admin = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
      admin.on('error', () => {});
      try {
        await admin.connect();
        await admin.ping();
        break;
      } catch (error) {
        admin.disconnect();
        if (attempt > 100) throw error;
        await sleep(50);
      }
    }
    await admin.cluster('ADDSLOTSRANGE', 0, 16383);
    const deadline = Date.now() + 15_000;
    while (!/^cluster_state:ok/m.test(await admin.cluster('INFO'))) {
      if (Date.now() > deadline) throw new Error('the one-node cluster did not reach cluster_state:ok');
      await sleep(100);
    }
    h = await startHarness({ redis: 'cluster', env: { REDIS_CLUSTER_NODES: `127.0.0.1:${port}` } });
    gateway = h.main;
  }, 30_000);

  afterAll(async () => {
    admin?.disconnect();
    await h?.close();
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is 200 while every slot is served, 503 while some are not, and 200 again once they are', async () => {
    expect(await readyzBecomes(gateway, 200)).toBe(200);
    await admin.cluster('DELSLOTSRANGE', 0, 99);
    expect(await readyzBecomes(gateway, 503)).toBe(503);
    // Still a node that answers PING: readiness looks at the cluster's state, not only at the socket.
    expect(await admin.ping()).toBe('PONG');
    await admin.cluster('ADDSLOTSRANGE', 0, 99);
    expect(await readyzBecomes(gateway, 200)).toBe(200);
  });
});
