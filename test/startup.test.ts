import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { SEED_USERS, startSandbox, type Sandbox } from '../sandbox/index.js';
import { postGraphQL, runGateway, type RunningGateway } from './helpers/harness.js';
import { freeLoopbackPort } from './helpers/ports.js';

// Startup tells the truth: one line says where the gateway listens, which store it uses and which
// tenant it serves, and /readyz is 200 only once the tenant's signing keys and a Management API
// token were fetched. A wrong AUTH0_DOMAIN or refused client credentials leave /healthz at 200,
// give /readyz 503 with the reason and one log line (no stack), and are retried in the background
// with a bounded rate; a blip or a fix on the tenant's side heals without a restart.

const root = fileURLToPath(new URL('..', import.meta.url));
const QUICK_RETRY = { firstMs: 30, maxMs: 120 };

interface ReadyBody {
  status: string;
  checks: { store: string; tenant: string };
}

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(async () => sandbox?.close());

async function readyz(origin: string): Promise<{ status: number; body: ReadyBody }> {
  const response = await fetch(`${origin}/readyz`);
  return { status: response.status, body: (await response.json()) as ReadyBody };
}

/** Polls /readyz until `accept` holds for it (or `withinMs` passes), and returns the last answer. */
async function readyzUntil(origin: string, accept: (answer: { status: number; body: ReadyBody }) => boolean, withinMs = 5_000) {
  const deadline = Date.now() + withinMs;
  let answer = await readyz(origin);
  while (!accept(answer) && Date.now() < deadline) {
    await sleep(25);
    answer = await readyz(origin);
  }
  return answer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const originOf = (gateway: RunningGateway) => new URL(gateway.url).origin;

/** Log lines at warn level or above (pino: 40 warn, 50 error, 60 fatal). */
function problems(lines: string[]): Record<string, unknown>[] {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => Number(line.level) >= 40);
}

/** An HTTP server that is not an Auth0 tenant: 404 with an HTML page for everything, counting requests. */
async function notAuth0(): Promise<{ origin: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server: Server = createServer((_req, res) => {
    requests += 1;
    res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body><h1>Not Found</h1></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    origin: `http://127.0.0.1:${address.port}`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('npm start (dist/main.js) on a healthy sandbox', () => {
  let child: ChildProcess | undefined;
  let dir: string | undefined;

  /** Starts `node dist/main.js` with the sandbox's variables plus `env`, and waits for its "listening" line. */
  async function startMain(env: Record<string, string>): Promise<{ output: string[]; origin: string }> {
    const output: string[] = [];
    dir = mkdtempSync(path.join(tmpdir(), 'gateway-startup-test-'));
    child = spawn(process.execPath, [path.join(root, 'dist/main.js')], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...sandbox.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    const deadline = Date.now() + 15_000;
    while (!output.join('').includes('"event":"listening"')) {
      expect(Date.now(), `no listening line; output: ${output.join('')}`).toBeLessThan(deadline);
      await sleep(25);
    }
    return { output, origin: `http://127.0.0.1:${env.PORT}` };
  }
  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('logs one line naming the listen address, the Redis store without its password and the tenant; /readyz turns 200', async () => {
    const port = await freeLoopbackPort();
    const redis = new URL(inject('redisUrl'));
    const redisPassword = `pw-${randomBytes(12).toString('hex')}`;
    // The test Redis has no password: ioredis warns and carries on, so the store still works.
    const redisUrl = `redis://:${redisPassword}@${redis.host}`;
    const encryptionKey = randomBytes(32).toString('base64');
    const keyPrefix = `test:startup:${randomUUID()}:`;
    sandbox.resetCounters();
    const { output, origin } = await startMain({
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: keyPrefix,
      TOKEN_ENCRYPTION_KEY: encryptionKey,
    });
    const ready = await readyzUntil(origin, (answer) => answer.status === 200, 10_000);
    expect(ready).toEqual({ status: 200, body: { status: 'ready', checks: { store: 'ok', tenant: 'ok' } } });

    const lines = output.join('').split('\n').filter(Boolean);
    const listening = lines.filter((line) => line.includes('"event":"listening"'));
    expect(listening).toHaveLength(1);
    expect(JSON.parse(listening[0]!)).toMatchObject({
      level: 30,
      msg: `gateway listening on http://127.0.0.1:${port}/graphql; store: Redis redis://${redis.host}, key prefix ${keyPrefix}; tenant: ${sandbox.tenant.origin}`,
      url: `http://127.0.0.1:${port}/graphql`,
      store: `Redis redis://${redis.host}, key prefix ${keyPrefix}`,
      tenant: sandbox.tenant.origin,
    });
    // Nothing secret anywhere in the process output.
    const all = output.join('');
    for (const secret of [redisPassword, sandbox.tenant.clientSecret, encryptionKey, ...sandbox.tenant.issuedManagementTokens])
      expect(all).not.toContain(secret);
    // Both were fetched before any request: the first caller fetches neither again.
    expect(sandbox.tenant.count('jwks')).toBe(1);
    expect(sandbox.tenant.count('token')).toBe(1);
    const answer = await postGraphQL(`${origin}/graphql`, await sandbox.tenant.issueAccessToken({ sub: SEED_USERS.linus }), '{ me { id } }');
    expect(answer.data).toEqual({ me: { id: SEED_USERS.linus } });
    expect(sandbox.tenant.count('jwks')).toBe(1);
    expect(sandbox.tenant.count('token')).toBe(1);
  });

  it('with a wrong AUTH0_DOMAIN (nothing listens there): /healthz 200, /readyz 503 saying why, one log line without a stack', async () => {
    const port = await freeLoopbackPort();
    const closed = await freeLoopbackPort();
    const { output, origin } = await startMain({
      AUTH0_DOMAIN: `http://127.0.0.1:${closed}`,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
    const reason = `unreachable: connection to 127.0.0.1:${closed} refused (check AUTH0_DOMAIN)`;
    const answer = await readyzUntil(origin, ({ body }) => body.checks.tenant !== 'checking');
    expect(answer).toEqual({ status: 503, body: { status: 'unavailable', checks: { store: 'ok', tenant: reason } } });
    // Past the first retry (after about 1 s): still one line, the same reason, no stack.
    await sleep(1_500);
    const lines = output.join('').split('\n').filter(Boolean);
    const bad = problems(lines);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({
      level: 50,
      event: 'tenant_not_ready',
      reason,
      msg: `tenant http://127.0.0.1:${closed} is not usable: ${reason}; retrying in the background`,
    });
    expect(bad[0]).not.toHaveProperty('err');
    expect(output.join('')).not.toMatch(/\n\s+at |"stack"/);
    expect((await readyz(origin)).body.checks.tenant).toBe(reason);
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  });
});

describe('readiness of the tenant (in-process gateways on the sandbox)', () => {
  const running: RunningGateway[] = [];
  const servers: { close: () => Promise<void> }[] = [];
  afterEach(async () => {
    sandbox.clearFaults();
    sandbox.tenant.options.managementGrant = undefined;
    await Promise.all(running.splice(0).map((gateway) => gateway.close()));
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  async function start(env: Record<string, string> = {}): Promise<RunningGateway> {
    const gateway = await runGateway({ ...sandbox.env, LOG_LEVEL: 'info', ...env }, { tenantRetry: QUICK_RETRY });
    running.push(gateway);
    return gateway;
  }

  it('answers the first /readyz after startup with 200: it waits for the first check, which the sandbox answers at once', async () => {
    const gateway = await start();
    expect(await readyz(originOf(gateway))).toEqual({ status: 200, body: { status: 'ready', checks: { store: 'ok', tenant: 'ok' } } });
  });

  it('reports refused client credentials: 503 naming the variables to check, one log line, nothing secret', async () => {
    const wrongSecret = `wrong-${randomBytes(16).toString('hex')}`;
    const tokensBefore = sandbox.tenant.count('token');
    const gateway = await start({ AUTH0_CLIENT_SECRET: wrongSecret });
    const origin = originOf(gateway);
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
    const reason = 'management token refused: 401 access_denied (check AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET)';
    const answer = await readyz(origin);
    expect(answer).toEqual({ status: 503, body: { status: 'unavailable', checks: { store: 'ok', tenant: reason } } });
    // Retried in the background (30 ms doubling to 120 ms here), each time refused, logged once.
    while (sandbox.tenant.count('token') - tokensBefore < 4) await sleep(20);
    const bad = problems(gateway.logs);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({
      level: 50,
      event: 'management_token_refused',
      status: 401,
      error: 'access_denied',
      reason: reason.replace('management token refused: ', ''),
    });
    expect(bad[0]).not.toHaveProperty('err');
    expect(gateway.logs.join('\n')).not.toContain(wrongSecret);
    expect(gateway.logs.join('\n')).not.toContain(sandbox.tenant.clientSecret);
    expect((await readyz(origin)).body.checks.tenant).toBe(reason);
  });

  it('reports a client without a Management API grant, and turns ready without a restart once it is granted', async () => {
    sandbox.tenant.options.managementGrant = false;
    const gateway = await start();
    const origin = originOf(gateway);
    const refused = await readyz(origin);
    expect(refused.status).toBe(503);
    expect(refused.body.checks.tenant).toMatch(
      /^management token refused: 403 access_denied \(Auth0 says "Client is not authorized to access .*"; authorize the application for the Auth0 Management API\)$/,
    );
    sandbox.tenant.options.managementGrant = true;
    const ready = await readyzUntil(origin, ({ status }) => status === 200);
    expect(ready).toEqual({ status: 200, body: { status: 'ready', checks: { store: 'ok', tenant: 'ok' } } });
    const lines = gateway.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((line) => line.event === 'management_token_refused')).toHaveLength(1);
    expect(lines.filter((line) => line.event === 'tenant_ready')).toEqual([expect.objectContaining({ level: 30 })]);
  });

  it('heals after a network blip on the JWKS without a restart', async () => {
    sandbox.tenant.injectFault('jwks', { reset: true, times: 2 });
    const gateway = await start();
    const origin = originOf(gateway);
    const first = await readyz(origin);
    expect(first.status).toBe(503);
    expect(first.body.checks.tenant).toMatch(/^unreachable: /);
    const ready = await readyzUntil(origin, ({ status }) => status === 200);
    expect(ready.status).toBe(200);
    expect(problems(gateway.logs)).toHaveLength(1);
  });

  it('says so when AUTH0_DOMAIN is a web server but no Auth0 tenant, and retries at a bounded rate', async () => {
    const web = await notAuth0();
    servers.push(web);
    const gateway = await start({ AUTH0_DOMAIN: web.origin });
    const reason = `not an Auth0 tenant: ${web.origin}/.well-known/jwks.json answered HTTP 404 (check AUTH0_DOMAIN)`;
    expect(await readyz(originOf(gateway))).toEqual({ status: 503, body: { status: 'unavailable', checks: { store: 'ok', tenant: reason } } });
    // Waits of 30, 60, 120, 120 … ms (±20 %): about 6 attempts in 600 ms, never a tight loop.
    await sleep(600);
    expect(web.requests()).toBeGreaterThanOrEqual(3);
    expect(web.requests()).toBeLessThanOrEqual(10);
    const bad = problems(gateway.logs);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ event: 'tenant_not_ready', reason });
  });

  it('keeps the store check in the body: an unreachable Redis and a usable tenant', async () => {
    const gateway = await start({
      REDIS_URL: `redis://127.0.0.1:${await freeLoopbackPort()}`,
      TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    });
    const answer = await readyzUntil(originOf(gateway), ({ body }) => body.checks.tenant !== 'checking');
    expect(answer).toEqual({ status: 503, body: { status: 'unavailable', checks: { store: 'redis unavailable', tenant: 'ok' } } });
  });
});
