/**
 * vitest globalSetup: provides the Redis server the whole test run talks to (`npm test` runs against
 * a real Redis, never a mock).
 *
 * 1. `redis-server` on PATH: start a private one on a free loopback port (no persistence, files in a
 *    temporary directory), stop it when the run ends — also when the run is interrupted.
 * 2. Otherwise `REDIS_URL` set: check that it answers and use it.
 * 3. Otherwise fail with a message saying how to get one.
 *
 * Test files get the URL with `inject('redisUrl')` (from 'vitest'). All test files share the one
 * server and run in parallel, so each must keep its keys under its own unique prefix.
 *
 * Redis Cluster, for the tests that run against one too (`startHarness({ redis: 'cluster' })`):
 *
 * 1. `redis-server` and `redis-cli` on PATH: three cluster-enabled redis-servers on free loopback
 *    ports, joined with `redis-cli --cluster create` (three masters, no replicas, all 16384 slots),
 *    ready once every node reports `cluster_state:ok`; stopped with the single server.
 * 2. Otherwise `REDIS_CLUSTER_NODES` set (`host:port,…`): check that it answers and use it.
 * 3. Otherwise no cluster: `inject('redisClusterNodes')` is '' and the cluster tests are skipped.
 *
 * Test files get the seed nodes with `inject('redisClusterNodes')`: `127.0.0.1:P1,127.0.0.1:P2,…`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import { freeLoopbackPort } from '../helpers/ports.js';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the Redis server for this run, e.g. `redis://127.0.0.1:41234`. */
    redisUrl: string;
    /** `private`: a redis-server started for this run; `env`: the server named by REDIS_URL. */
    redisSource: 'private' | 'env';
    /** Seed nodes of the Redis Cluster for this run, `127.0.0.1:P1,127.0.0.1:P2,…`; '' when there is none. */
    redisClusterNodes: string;
    /** `private`: three redis-servers started for this run; `env`: REDIS_CLUSTER_NODES; `none`: no cluster. */
    redisClusterSource: 'private' | 'env' | 'none';
  }
}

const READY_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3;

const HOW_TO_GET_REDIS =
  'Install redis-server so the tests start a private one on a free loopback port ' +
  '(Debian/Ubuntu: `apt-get install -y redis-server`, as root or with sudo; macOS: `brew install redis`), ' +
  'or set REDIS_URL to a Redis server the tests may use (e.g. `REDIS_URL=redis://127.0.0.1:6379 npm test`; ' +
  'tests only touch keys under their own prefixes).';

/** The executable `command` on PATH, if any. */
export function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Connects once, sends PING, returns `INFO server`. Throws when the server does not answer. */
async function probe(url: string, timeoutMs: number): Promise<string> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let socketError: Error | undefined;
  client.on('error', (error: Error) => {
    socketError = error; // the cause; the rejections below often only say "Connection is closed."
  });
  try {
    await client.connect();
    const pong = await client.ping();
    if (pong !== 'PONG') throw new Error(`unexpected PING reply ${JSON.stringify(pong)}`);
    return await client.info('server');
  } catch (error) {
    throw socketError ?? error;
  } finally {
    client.disconnect();
  }
}

function infoField(info: string, field: string): string | undefined {
  const match = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  return match?.[1]?.trim();
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface PrivateServer {
  url: string;
  port: number;
  child: ChildProcess;
  dir: string;
  version: string;
  startupMs: number;
}

async function startOnce(bin: string): Promise<PrivateServer> {
  const port = await freeLoopbackPort();
  const dir = mkdtempSync(join(tmpdir(), 'gateway-test-redis-'));
  const logfile = join(dir, 'redis.log');
  const started = Date.now();
  const child = spawn(
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--logfile', logfile],
    { stdio: 'ignore' },
  );
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal ? `signal ${signal}` : `exit code ${code}`;
  });
  child.once('error', (error) => {
    exited = error.message;
  });

  const url = `redis://127.0.0.1:${port}`;
  let lastError = 'no answer';
  while (exited === undefined && Date.now() - started < READY_TIMEOUT_MS) {
    try {
      const info = await probe(url, 1_000);
      // Make sure the server that answered is ours, not another one that grabbed the port.
      if (infoField(info, 'process_id') === String(child.pid)) {
        return { url, port, child, dir, version: infoField(info, 'redis_version') ?? '?', startupMs: Date.now() - started };
      }
      lastError = 'another process answers on that port';
      break;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(50);
  }

  await stopChild(child);
  let log = '';
  try {
    log = readFileSync(logfile, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    // no log written
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(
    `redis-server (${bin}) on port ${port} did not become ready: ${exited ? `it ended (${exited})` : lastError}` +
      (log ? `\n--- redis.log (last lines) ---\n${log}` : ''),
  );
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(force);
}

async function startPrivate(bin: string): Promise<PrivateServer> {
  const errors: string[] = [];
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startOnce(bin);
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
    }
  }
  throw new Error(
    `Could not start a private redis-server for the tests (${START_ATTEMPTS} attempts):\n${errors.join('\n')}\n` +
      'Fix the redis-server installation, or remove it from PATH and set REDIS_URL to a running server.',
  );
}

const CLUSTER_MASTERS = 3;
const CLUSTER_READY_TIMEOUT_MS = 20_000;

interface PrivateCluster {
  /** REDIS_CLUSTER_NODES for the gateway: `127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`. */
  nodes: string;
  children: ChildProcess[];
  dir: string;
  version: string;
  startupMs: number;
}

/** Whether a loopback port can be bound right now. */
function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Free loopback ports for cluster nodes: a node also listens on its port + 10000 (the cluster bus),
 * so that one must be free too, and every port and bus port distinct.
 */
async function clusterPorts(count: number): Promise<number[]> {
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count && attempt < 100; attempt++) {
    const port = await freeLoopbackPort();
    const bus = port + 10_000;
    if (bus > 65_535 || taken.has(port) || taken.has(bus) || !(await canBind(bus))) continue;
    taken.add(port).add(bus);
    ports.push(port);
  }
  if (ports.length < count) throw new Error('could not find free loopback ports (and bus ports) for the cluster nodes');
  return ports;
}

/** `CLUSTER INFO`'s cluster_state of the node on `port`, or the error that kept it from answering. */
async function clusterState(host: string, port: number): Promise<string> {
  const client = new Redis(port, host, {
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
    return infoField(await client.cluster('INFO'), 'cluster_state') ?? '(no cluster_state)';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    client.disconnect();
  }
}

function runRedisCli(cli: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cli, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      if (error) reject(new Error(`redis-cli ${args.join(' ')} failed: ${error.message}\n${output}`));
      else resolve(output);
    });
  });
}

/** Lets each node answer, joins them with `redis-cli --cluster create`, waits for cluster_state:ok everywhere. */
/** Arguments of a cluster-enabled, persistence-free `redis-server` on loopback `port`, its files in `dir`. */
export function clusterNodeArgs(port: number, dir: string, configFile: string): string[] {
  return [
    ...['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'],
    ...['--cluster-config-file', join(dir, configFile), '--cluster-node-timeout', '2000'],
    ...['--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir],
  ];
}

async function startClusterOnce(bin: string, cli: string): Promise<PrivateCluster> {
  const started = Date.now();
  const ports = await clusterPorts(CLUSTER_MASTERS);
  const dir = mkdtempSync(join(tmpdir(), 'gateway-test-redis-cluster-'));
  const exits = new Map<number, string>();
  const children = ports.map((port) => {
    const child = spawn(bin, [...clusterNodeArgs(port, dir, `nodes-${port}.conf`), '--logfile', join(dir, `redis-${port}.log`)], { stdio: 'ignore' });
    child.once('exit', (code, signal) => exits.set(port, signal ? `signal ${signal}` : `exit code ${code}`));
    child.once('error', (error) => exits.set(port, error.message));
    return child;
  });

  try {
    // Every node answers, and it is ours (not another process that grabbed the port).
    let version = '?';
    await Promise.all(
      ports.map(async (port, index) => {
        let lastError = 'no answer';
        while (Date.now() - started < READY_TIMEOUT_MS) {
          const exited = exits.get(port);
          if (exited) throw new Error(`cluster node on port ${port} ended (${exited})`);
          try {
            const info = await probe(`redis://127.0.0.1:${port}`, 1_000);
            if (infoField(info, 'process_id') !== String(children[index]!.pid)) throw new Error(`another process answers on port ${port}`);
            version = infoField(info, 'redis_version') ?? '?';
            return;
          } catch (error) {
            lastError = error instanceof Error ? error.message : String(error);
            if (lastError.startsWith('another process')) throw error;
          }
          await sleep(50);
        }
        throw new Error(`cluster node on port ${port} did not answer: ${lastError}`);
      }),
    );

    const addresses = ports.map((port) => `127.0.0.1:${port}`);
    await runRedisCli(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);

    // `--cluster create` returns once the nodes agree on the configuration; a node serves only once
    // it reports cluster_state:ok itself.
    let states: string[] = [];
    while (Date.now() - started < CLUSTER_READY_TIMEOUT_MS) {
      states = await Promise.all(ports.map((port) => clusterState('127.0.0.1', port)));
      if (states.every((state) => state === 'ok')) {
        return { nodes: addresses.join(','), children, dir, version, startupMs: Date.now() - started };
      }
      await sleep(100);
    }
    throw new Error(
      `the cluster did not reach cluster_state:ok within ${CLUSTER_READY_TIMEOUT_MS} ms: ${ports.map((port, i) => `${port}=${states[i]}`).join(', ')}`,
    );
  } catch (error) {
    await Promise.all(children.map(stopChild));
    const logs = ports
      .map((port) => {
        try {
          return `--- redis-${port}.log (last lines) ---\n${readFileSync(join(dir, `redis-${port}.log`), 'utf8')
            .trim()
            .split('\n')
            .slice(-5)
            .join('\n')}`;
        } catch {
          return '';
        }
      })
      .filter(Boolean);
    rmSync(dir, { recursive: true, force: true });
    throw new Error([error instanceof Error ? error.message : String(error), ...logs].join('\n'), { cause: error });
  }
}

async function startPrivateCluster(bin: string, cli: string): Promise<PrivateCluster> {
  const errors: string[] = [];
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    try {
      return await startClusterOnce(bin, cli);
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
    }
  }
  throw new Error(
    `Could not start a private Redis Cluster for the tests (${START_ATTEMPTS} attempts):\n${errors.join('\n')}\n` +
      'Fix the redis-server/redis-cli installation, or remove redis-cli from PATH to skip the cluster tests.',
  );
}

/** Checks that every seed node of REDIS_CLUSTER_NODES reports cluster_state:ok. */
async function checkEnvCluster(nodes: string): Promise<void> {
  const seeds = nodes
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (seeds.length === 0) throw new Error('REDIS_CLUSTER_NODES lists no host:port');
  for (const seed of seeds) {
    const at = seed.lastIndexOf(':');
    const state = await clusterState(seed.slice(0, at).replace(/^\[|\]$/g, ''), Number(seed.slice(at + 1)));
    if (state !== 'ok') throw new Error(`REDIS_CLUSTER_NODES: ${seed} does not report cluster_state:ok (${state})`);
  }
}

/** Provides the run's Redis Cluster (see the header); returns what stops it, if it is ours. */
async function provideCluster(project: TestProject, bin: string | undefined): Promise<PrivateCluster | undefined> {
  const cli = findOnPath('redis-cli');
  if (bin && cli) {
    const cluster = await startPrivateCluster(bin, cli);
    project.provide('redisClusterNodes', cluster.nodes);
    project.provide('redisClusterSource', 'private');
    console.log(
      `[test redis] private ${CLUSTER_MASTERS}-master Redis Cluster ${cluster.version} at ${cluster.nodes} ` +
        `(pids ${cluster.children.map((child) => child.pid).join(', ')}, ready in ${cluster.startupMs} ms)`,
    );
    return cluster;
  }
  const envNodes = process.env.REDIS_CLUSTER_NODES?.trim();
  if (envNodes) {
    await checkEnvCluster(envNodes);
    project.provide('redisClusterNodes', envNodes);
    project.provide('redisClusterSource', 'env');
    console.log(`[test redis] using REDIS_CLUSTER_NODES ${envNodes} for the cluster tests`);
    return undefined;
  }
  project.provide('redisClusterNodes', '');
  project.provide('redisClusterSource', 'none');
  console.log(
    `[test redis] no Redis Cluster: ${bin ? 'redis-cli' : 'redis-server'} is not on PATH and REDIS_CLUSTER_NODES is not set; the cluster tests are skipped`,
  );
  return undefined;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bin = findOnPath('redis-server');

  if (bin) {
    // The single server and the cluster start side by side; if either fails, the other is stopped.
    const [single, cluster] = await Promise.allSettled([startPrivate(bin), provideCluster(project, bin)]);
    if (single.status === 'rejected' || cluster.status === 'rejected') {
      if (single.status === 'fulfilled') {
        await stopChild(single.value.child);
        rmSync(single.value.dir, { recursive: true, force: true });
      }
      if (cluster.status === 'fulfilled' && cluster.value) {
        await Promise.all(cluster.value.children.map(stopChild));
        rmSync(cluster.value.dir, { recursive: true, force: true });
      }
      throw single.status === 'rejected' ? single.reason : (cluster as PromiseRejectedResult).reason;
    }
    const server = single.value;
    const children = [server.child, ...(cluster.value?.children ?? [])];
    const dirs = [server.dir, ...(cluster.value ? [cluster.value.dir] : [])];

    // Interrupted runs: vitest turns SIGINT/SIGTERM into process.exit(), which fires 'exit'; our own
    // signal handlers cover the signals vitest does not handle. Either way the children are killed.
    const killNow = () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    };
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    const onSignal = (signal: NodeJS.Signals) => {
      killNow();
      process.off(signal, onSignal);
      // Nobody else handles it: keep the default behaviour (terminate by that signal).
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once('exit', killNow);
    for (const signal of signals) process.on(signal, onSignal);

    project.provide('redisUrl', server.url);
    project.provide('redisSource', 'private');
    console.log(`[test redis] private redis-server ${server.version} at ${server.url} (pid ${server.child.pid}, ready in ${server.startupMs} ms)`);

    return async () => {
      process.off('exit', killNow);
      for (const signal of signals) process.off(signal, onSignal);
      await Promise.all(children.map(stopChild));
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    };
  }

  await provideCluster(project, undefined);

  const envUrl = process.env.REDIS_URL?.trim();
  if (envUrl) {
    try {
      await probe(envUrl, 5_000);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(
        `REDIS_URL=${redactUrl(envUrl)} does not answer PING (${reason}). ` + `Start that server or point REDIS_URL at one that runs. ${HOW_TO_GET_REDIS}`,
        { cause: error },
      );
    }
    project.provide('redisUrl', envUrl);
    project.provide('redisSource', 'env');
    console.log(`[test redis] using REDIS_URL ${redactUrl(envUrl)} (redis-server is not on PATH)`);
    return async () => {};
  }

  throw new Error(`The tests need a Redis server: redis-server is not on PATH and REDIS_URL is not set. ${HOW_TO_GET_REDIS}`);
}
