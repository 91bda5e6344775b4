import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { SEED_USERS, startSandbox, type Sandbox } from '../sandbox/index.js';
import { freeLoopbackPort } from './helpers/ports.js';

// Draining under load: `node dist/main.js` serves keep-alive clients whose requests wait on a slow
// provider, then gets SIGTERM. /readyz turns 503 at once, every request in flight completes with a
// 200 that carries `Connection: close`, an idle keep-alive connection is closed by the server, no
// client sees a reset, and the process exits 0 as soon as the last response is out.

const root = fileURLToPath(new URL('..', import.meta.url));
const PROVIDER_DELAY_MS = 1_500;
const CONNECTIONS = 4;
const QUERY = '{ me { google { profile { email } } } }';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let sandbox: Sandbox;
let child: ChildProcess | undefined;
let dir: string | undefined;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
  sandbox.clearFaults();
  sandbox.resetCounters();
});
afterAll(async () => sandbox?.close());

/** One HTTP exchange as a client saw it. */
interface Exchange {
  status?: number;
  headers?: IncomingHttpHeaders;
  body?: string;
  error?: NodeJS.ErrnoException;
  sentAt: number;
  doneAt: number;
  socket?: Socket;
}

/** Sends one request (through `agent`, or on a connection of its own) and reports what came back, never throwing. */
function exchange(url: string, agent: Agent | false, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Exchange> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    const req = request(url, { method: options.method ?? 'GET', agent, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          sentAt,
          doneAt: Date.now(),
          socket: req.socket ?? undefined,
        }),
      );
      res.on('error', (error) => resolve({ error, sentAt, doneAt: Date.now() }));
    });
    req.on('error', (error) => resolve({ error, sentAt, doneAt: Date.now() }));
    req.end(options.body);
  });
}

/** Starts `node dist/main.js` on the sandbox with `env`, and waits until /readyz is 200. */
async function startMain(env: Record<string, string>) {
  const port = await freeLoopbackPort();
  const origin = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  dir = mkdtempSync(path.join(tmpdir(), 'gateway-shutdown-test-'));
  const started = spawn(process.execPath, [path.join(root, 'dist/main.js')], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', ...sandbox.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = started;
  started.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  started.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => started.once('exit', (code) => resolve({ code, at: Date.now() })));
  const logged = (event: string) => output.join('').includes(`"event":"${event}"`);
  const deadline = Date.now() + 15_000;
  while (!logged('listening')) {
    expect(Date.now(), `no listening line; output: ${output.join('')}`).toBeLessThan(deadline);
    await sleep(25);
  }
  while ((await exchange(`${origin}/readyz`, false)).status !== 200) {
    expect(Date.now(), `never ready; output: ${output.join('')}`).toBeLessThan(deadline);
    await sleep(50);
  }
  return { child: started, origin, output, exited, logged };
}

/** A GraphQL request of ada's asking for her Google profile (one userinfo call). */
async function profileRequest() {
  const token = await sandbox.tenant.issueAccessToken({ sub: SEED_USERS.ada, scope: 'openid profile' });
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: QUERY }),
  };
}

it('SIGTERM under keep-alive load: /readyz 503 at once, in-flight requests complete with Connection: close, no resets, exit 0', async () => {
  const { child, origin, output, exited, logged } = await startMain({ SHUTDOWN_TIMEOUT_MS: '10000' });
  const graphql = await profileRequest();
  // Warm: the token record and the user are in place, so every later request waits only on Google.
  const warm = await exchange(`${origin}/graphql`, false, graphql);
  expect(warm.status, warm.body).toBe(200);
  expect(JSON.parse(warm.body!)).toMatchObject({ data: { me: { google: { profile: { email: expect.any(String) } } } } });

  // An idle keep-alive connection: the server must close it when the drain begins.
  const idleAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const idle = await exchange(`${origin}/healthz`, idleAgent);
  expect(idle.headers?.connection).toBe('keep-alive');
  const idleClosed = new Promise<number>((resolve) => idle.socket!.once('close', () => resolve(Date.now())));

  // Busy keep-alive connections: each client sends its next request as soon as an answer arrives,
  // until an answer tells it the connection closes.
  sandbox.google.injectFault('userinfo', { delayMs: PROVIDER_DELAY_MS, times: 1_000 });
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const exchanges: Exchange[] = [];
  const clients = Array.from({ length: CONNECTIONS }, async () => {
    for (;;) {
      const answer = await exchange(`${origin}/graphql`, agent, graphql);
      exchanges.push(answer);
      if (answer.error || answer.headers?.connection === 'close') return;
    }
  });
  // Each connection has served one request and carries its second when the signal comes.
  await sleep(PROVIDER_DELAY_MS + 500);
  expect(exchanges.length).toBe(CONNECTIONS);
  expect(exchanges.every((answer) => answer.status === 200 && answer.headers?.connection === 'keep-alive')).toBe(true);

  const signalledAt = Date.now();
  child.kill('SIGTERM');
  while (!logged('shutdown')) await sleep(5);
  // A load balancer's probe on a new connection: not ready, at once.
  const probe = await exchange(`${origin}/readyz`, false);
  const probeMs = probe.doneAt - signalledAt;
  expect(probe.status).toBe(503);
  expect(JSON.parse(probe.body!)).toEqual({ status: 'draining', checks: { shutdown: 'draining' } });
  expect(probe.headers?.connection).toBe('close');
  expect(probeMs).toBeLessThan(PROVIDER_DELAY_MS);
  // A request the load balancer sent before it noticed: still served, on a connection of its own.
  const late = exchange(`${origin}/graphql`, false, graphql);

  await Promise.all(clients);
  const lateAnswer = await late;
  const exit = await exited;
  const idleClosedAt = await idleClosed;

  const afterSignal = exchanges.filter((answer) => answer.doneAt >= signalledAt);
  const resets = exchanges.filter((answer) => answer.error).length + (lateAnswer.error ? 1 : 0);
  const figures = {
    inFlightAtSignal: afterSignal.length,
    inFlightCompleted200: afterSignal.filter((answer) => answer.status === 200).length,
    withConnectionClose: afterSignal.filter((answer) => answer.headers?.connection === 'close').length,
    lateRequest: `${lateAnswer.status ?? lateAnswer.error?.code} connection: ${lateAnswer.headers?.connection}`,
    resets,
    readyzProbeMs: probeMs,
    idleConnectionClosedMs: idleClosedAt - signalledAt,
    exitCode: exit.code,
    timeToExitMs: exit.at - signalledAt,
  };
  console.log('shutdown under keep-alive load:', JSON.stringify(figures));

  expect(resets).toBe(0);
  expect(afterSignal).toHaveLength(CONNECTIONS);
  for (const answer of [...afterSignal, lateAnswer]) {
    expect(answer.status, answer.body).toBe(200);
    expect(answer.headers?.connection).toBe('close');
    expect(JSON.parse(answer.body!)).toMatchObject({ data: { me: { google: { profile: { email: expect.any(String) } } } } });
  }
  // The idle connection went when the drain began, long before the busy ones finished.
  expect(idleClosedAt).toBeLessThan(Math.min(...afterSignal.map((answer) => answer.doneAt)));
  expect(exit.code).toBe(0);
  // Out as soon as the last response is: well within SHUTDOWN_TIMEOUT_MS.
  expect(exit.at - signalledAt).toBeLessThan(5_000);
  const lines = output.join('').split('\n').filter(Boolean);
  expect(lines.some((line) => line.includes('"event":"shutdown_complete"'))).toBe(true);
  expect(lines.some((line) => line.includes('"event":"shutdown_forced"'))).toBe(false);
  agent.destroy();
  idleAgent.destroy();
}, 30_000);

it('SIGTERM with requests outlasting SHUTDOWN_TIMEOUT_MS: exits 1 after the timeout, logging how many were cut off', async () => {
  const { child, origin, output, exited, logged } = await startMain({ SHUTDOWN_TIMEOUT_MS: '500' });
  const graphql = await profileRequest();
  expect((await exchange(`${origin}/graphql`, false, graphql)).status).toBe(200);
  sandbox.google.injectFault('userinfo', { delayMs: 3_000, times: 2 });
  const slow = [exchange(`${origin}/graphql`, false, graphql), exchange(`${origin}/graphql`, false, graphql)];
  while (sandbox.google.count('userinfo') < 3) await sleep(10);
  const signalledAt = Date.now();
  child.kill('SIGTERM');
  const exit = await exited;
  const answers = await Promise.all(slow);
  console.log(
    'forced shutdown:',
    JSON.stringify({ exitCode: exit.code, timeToExitMs: exit.at - signalledAt, clientErrors: answers.map((a) => a.error?.code) }),
  );
  expect(exit.code).toBe(1);
  expect(exit.at - signalledAt).toBeGreaterThanOrEqual(450);
  expect(exit.at - signalledAt).toBeLessThan(2_500);
  expect(logged('shutdown_forced')).toBe(true);
  const forced = output
    .join('')
    .split('\n')
    .find((line) => line.includes('"event":"shutdown_forced"'));
  expect(JSON.parse(forced!)).toMatchObject({ level: 50, cutOff: 2, timeoutMs: 500, msg: 'shutdown did not finish within 500 ms: 2 requests cut off' });
}, 30_000);
