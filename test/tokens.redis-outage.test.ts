import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_ACCOUNTS, SEED_USERS } from '../sandbox/index.js';
import { errorCodes, postGraphQL, runGateway, startHarness, type Harness, type RunningGateway } from './helpers/harness.js';
import { freeLoopbackPort } from './helpers/ports.js';

// Serving through a Redis outage. The gateway has its own redis-server here, which the test kills
// and starts again. While it is down, the token and user records this instance holds keep being
// served (until they expire); a renewal that cannot rotate the refresh token (Google) proceeds in
// this process and is written back when Redis returns; one that may rotate (Bitbucket) is refused
// with UPSTREAM_UNAVAILABLE and never sent. /readyz is 503 meanwhile and 200 again without a restart.

const QUERY = '{ me { id google { profile { email } } bitbucket { account { uuid } } } }';
type Answer = { me: { id: string; google: { profile: { email: string } | null } | null; bitbucket: { account: { uuid: string } | null } | null } };

let h: Harness;
let redis: ChildProcess | undefined;
let port: number;
let dir: string;
let gateway: RunningGateway;
let ada: string;

beforeAll(async () => {
  h = await startHarness({ redis: false });
  port = await freeLoopbackPort();
  dir = mkdtempSync(path.join(tmpdir(), 'gateway-outage-redis-'));
  await startRedis();
  gateway = await runGateway(gatewayEnv());
  ada = await h.token(SEED_USERS.ada, 'openid read:user_idp_tokens');
}, 30_000);

afterAll(async () => {
  await gateway?.close();
  await h?.close();
  redis?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('with its Redis gone', () => {
  it('keeps serving what this instance holds, and says it is not ready', async () => {
    const warm = await postGraphQL<Answer>(gateway.url, ada, QUERY);
    expect(warm.errors).toBeUndefined();
    const before = upstreamCalls();

    await stopRedis();
    const answer = await postGraphQL<Answer>(gateway.url, ada, QUERY);
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual(warm.data);
    // The user record came from this process's memory: no Management API read.
    expect(upstreamCalls().auth0).toBe(before.auth0);
    expect((await fetch(`${origin()}/readyz`)).status).toBe(503);
  });

  it('renews a Google token in this process, and refuses a Bitbucket renewal that would rotate', async () => {
    h.sandbox.google.expireAccessTokens(SEED_ACCOUNTS.ada.google);
    h.sandbox.bitbucket.expireAccessTokens(SEED_ACCOUNTS.ada.bitbucket);
    const before = upstreamCalls();
    const answer = await postGraphQL<Answer>(gateway.url, ada, QUERY);
    expect(answer.data?.me.google?.profile?.email).toBe('ada@example.com');
    expect(answer.data?.me.bitbucket).toEqual({ account: null });
    expect(errorCodes(answer)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(answer.errors?.[0]?.path).toEqual(['me', 'bitbucket', 'account']);
    expect(answer.errors?.[0]?.message).toMatch(/rotate/);
    const after = upstreamCalls();
    expect(after.googleGrants - before.googleGrants).toBe(1);
    expect(after.bitbucketGrants - before.bitbucketGrants).toBe(0);
    expect(await metric('idpgw_token_records_unsaved')).toBe(1);
  });

  it('is ready again within seconds of Redis returning, and writes the renewed record back', async () => {
    await startRedis();
    const started = Date.now();
    while ((await fetch(`${origin()}/readyz`)).status !== 200) {
      expect(Date.now() - started).toBeLessThan(10_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const readyAfterMs = Date.now() - started;
    while ((await metric('idpgw_token_records_unsaved')) !== 0) {
      expect(Date.now() - started).toBeLessThan(10_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    console.log(`ready ${readyAfterMs} ms after Redis restarted; renewed record written back after ${Date.now() - started} ms`);

    // Another instance on the same Redis gets the renewed token from the store, renewing nothing.
    const grants = upstreamCalls().googleGrants;
    const other = await runGateway(gatewayEnv());
    try {
      const mine = await postGraphQL<{ me: { google: { accessToken: string } } }>(gateway.url, ada, '{ me { google { accessToken } } }');
      const theirs = await postGraphQL<{ me: { google: { accessToken: string } } }>(other.url, ada, '{ me { google { accessToken } } }');
      expect(theirs.data?.me.google.accessToken).toBe(mine.data?.me.google.accessToken);
      expect(upstreamCalls().googleGrants).toBe(grants);
    } finally {
      await other.close();
    }
  });
});

const encryptionKey = randomBytes(32).toString('base64');

/** The environment of a gateway on this test's own Redis. */
function gatewayEnv(): Record<string, string> {
  return { ...h.env, REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_KEY_PREFIX: 'test:outage:', TOKEN_ENCRYPTION_KEY: encryptionKey };
}

function origin(): string {
  return new URL(gateway.url).origin;
}

function upstreamCalls() {
  const { tenant, google, bitbucket } = h.sandbox;
  return { auth0: tenant.count('getUser') + tenant.count('searchUsers'), googleGrants: google.count('token'), bitbucketGrants: bitbucket.count('token') };
}

async function metric(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${origin()}/metrics`)).text();
  const line = text.split('\n').find((entry) => entry.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : undefined;
}

async function startRedis(): Promise<void> {
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!(await answers(port))) {
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stopRedis(): Promise<void> {
  const child = redis;
  redis = undefined;
  if (!child) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

function answers(target: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createServer();
    socket.once('error', () => resolve(true));
    socket.listen(target, '127.0.0.1', () => socket.close(() => resolve(false)));
  });
}
