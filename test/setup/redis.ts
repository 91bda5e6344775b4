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
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the Redis server for this run, e.g. `redis://127.0.0.1:41234`. */
    redisUrl: string;
    /** `private`: a redis-server started for this run; `env`: the server named by REDIS_URL. */
    redisSource: 'private' | 'env';
  }
}

const READY_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3;

const HOW_TO_GET_REDIS =
  'Install redis-server so the tests start a private one on a free loopback port ' +
  '(Debian/Ubuntu: `apt-get install -y redis-server`, as root or with sudo; macOS: `brew install redis`), ' +
  'or set REDIS_URL to a Redis server the tests may use (e.g. `REDIS_URL=redis://127.0.0.1:6379 npm test`; ' +
  'tests only touch keys under their own prefixes).';

function findOnPath(command: string): string | undefined {
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

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not read a free port'))));
    });
  });
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const bin = findOnPath('redis-server');

  if (bin) {
    const server = await startPrivate(bin);

    // Interrupted runs: vitest turns SIGINT/SIGTERM into process.exit(), which fires 'exit'; our own
    // signal handlers cover the signals vitest does not handle. Either way the child is killed.
    const killNow = () => {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
      rmSync(server.dir, { recursive: true, force: true });
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
      await stopChild(server.child);
      rmSync(server.dir, { recursive: true, force: true });
    };
  }

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
