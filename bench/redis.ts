import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, portIsFree, runToEnd, startChild, waitFor, type Child } from './processes.js';

/**
 * Private Redis servers for the benchmark, on free loopback ports, without persistence, stopped at
 * the end of the run: one standalone server (as test/setup/redis.ts starts for the tests) and a
 * three-master cluster for scenario (f).
 */

/** One command to a Redis server with short timeouts; the client is always closed. */
async function command(port: number, args: string[]): Promise<string> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 1_000,
    commandTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const [name, ...rest] = args;
    return String(await client.call(name ?? 'PING', ...rest));
  } finally {
    client.disconnect();
  }
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** Starts redis-server on `port`, files in `dir`, and waits until this very process answers. */
async function startServer(bin: string, port: number, dir: string, extra: string[]): Promise<{ child: Child; version: string }> {
  const child = startChild(
    `redis-${port}`,
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, ...extra],
    {},
    dir,
  );
  let version = '?';
  await waitFor(child, 'an answer to INFO', async () => {
    const info = await command(port, ['INFO', 'server']);
    if (infoField(info, 'process_id') !== String(child.pid)) throw new Error('another process answers on that port');
    version = infoField(info, 'redis_version') ?? '?';
    return true;
  });
  return { child, version };
}

/** A private standalone Redis. */
export interface PrivateRedis {
  url: string;
  version: string;
  /** `total_commands_processed` of INFO stats (each INFO call counts as one more). */
  commandsProcessed(): Promise<number>;
  stop(): Promise<void>;
}

export async function startRedis(bin = 'redis-server'): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-redis-'));
  const port = await freePort();
  try {
    const { child, version } = await startServer(bin, port, dir, []);
    return {
      url: `redis://127.0.0.1:${port}`,
      version,
      commandsProcessed: async () => Number(infoField(await command(port, ['INFO', 'stats']), 'total_commands_processed')),
      stop: async () => {
        await child.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A private Redis Cluster of three masters on loopback. */
export interface PrivateCluster {
  /** `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`, as REDIS_CLUSTER_NODES takes it. */
  nodes: string;
  version: string;
  /** DBSIZE of each master. */
  keyCounts(): Promise<number[]>;
  /** `total_commands_processed` summed over the masters. */
  commandsProcessed(): Promise<number>;
  stop(): Promise<void>;
}

/** A port whose cluster bus port (port + 10000) is free as well. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if (port > 55_535 || taken.has(port) || taken.has(port + 10_000)) continue;
    if (await portIsFree(port + 10_000)) return port;
  }
  throw new Error('no free port pair (port, port + 10000) for a cluster node');
}

export async function startCluster(bin = 'redis-server', cli = 'redis-cli'): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-cluster-'));
  const nodes: Child[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const taken = new Set<number>();
    const ports: number[] = [];
    let version = '?';
    for (let i = 0; i < 3; i++) {
      const port = await clusterPort(taken);
      taken.add(port).add(port + 10_000);
      ports.push(port);
      const started = await startServer(bin, port, dir, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '5000',
      ]);
      nodes.push(started.child);
      version = started.version;
    }
    const addresses = ports.map((port) => `127.0.0.1:${port}`);
    await runToEnd(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeoutMs: 30_000 });
    for (const [index, port] of ports.entries()) {
      await waitFor(
        nodes[index]!,
        'cluster_state:ok',
        async () => {
          const info = await command(port, ['CLUSTER', 'INFO']);
          return infoField(info, 'cluster_state') === 'ok' && infoField(info, 'cluster_slots_assigned') === '16384';
        },
        20_000,
      );
    }
    const keyCounts = () => Promise.all(ports.map(async (port) => Number(await command(port, ['DBSIZE']))));
    const commandsProcessed = async () => {
      const counts = await Promise.all(ports.map(async (port) => Number(infoField(await command(port, ['INFO', 'stats']), 'total_commands_processed'))));
      return counts.reduce((sum, count) => sum + count, 0);
    };
    return { nodes: addresses.join(','), version, keyCounts, commandsProcessed, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
