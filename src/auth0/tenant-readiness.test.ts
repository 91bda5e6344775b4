import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../logger.js';
import { ManagementTokenRefusedError } from './management-token.js';
import { TenantReadiness } from './tenant-readiness.js';

// The tenant check retries in the background without hammering the tenant (exponential backoff
// capped at a minute), logs one line per distinct reason, and turns ready once both the keys and
// the token come, without a restart.

const ORIGIN = 'https://acme.eu.auth0.com';

function logSink(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger('debug', sink) };
}

/** A fetch failure as Node's fetch reports a refused connection. */
function refusedConnection(): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' }) });
}

/** A check against a tenant whose JWKS connection is always refused, counting its attempts. */
function unreachableTenant(logger: ConstructorParameters<typeof TenantReadiness>[0]['logger']) {
  let attempts = 0;
  const check = new TenantReadiness({
    origin: ORIGIN,
    signingKeys: {
      loadSigningKeys: () => {
        attempts += 1;
        return Promise.reject(refusedConnection());
      },
      lastJwksStatus: undefined,
    },
    managementToken: () => Promise.resolve('token'),
    logger,
  });
  return { check, attempts: () => attempts };
}

describe('TenantReadiness', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('retries at most about once a minute after the first minutes, and logs the unchanged reason once', async () => {
    const { lines, logger } = logSink();
    const { check, attempts } = unreachableTenant(logger);
    check.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(check.ready).toBe(false);
    expect(check.summary).toBe('unreachable: connection to acme.eu.auth0.com refused (check AUTH0_DOMAIN)');
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    // Waits of 1, 2, 4 … 32 s, then 60 s (each ±20 %): about 16 attempts in ten minutes.
    expect(attempts()).toBeGreaterThanOrEqual(12);
    expect(attempts()).toBeLessThanOrEqual(20);
    // The last stretch is at the cap: no more than two attempts in two minutes.
    const before = attempts();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(attempts() - before).toBeLessThanOrEqual(3);
    expect(lines.filter((line) => Number(line.level) >= 40)).toEqual([
      expect.objectContaining({ event: 'tenant_not_ready', reason: check.summary, tenant: ORIGIN }),
    ]);
    check.stop();
  });

  it('turns ready without a restart once the tenant answers, and says so', async () => {
    const { lines, logger } = logSink();
    let reachable = false;
    const check = new TenantReadiness({
      origin: ORIGIN,
      signingKeys: { loadSigningKeys: () => (reachable ? Promise.resolve(2) : Promise.reject(refusedConnection())), lastJwksStatus: undefined },
      managementToken: () => Promise.resolve('token'),
      logger,
    });
    check.start();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(check.ready).toBe(false);
    reachable = true;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(check.ready).toBe(true);
    expect(check.summary).toBe('ok');
    expect(lines.map((line) => line.event)).toEqual(['tenant_not_ready', 'tenant_ready']);
    check.stop();
  });

  it('names refused credentials, leaving the log line to the token provider', async () => {
    const { lines, logger } = logSink();
    const check = new TenantReadiness({
      origin: ORIGIN,
      signingKeys: { loadSigningKeys: () => Promise.resolve(1), lastJwksStatus: 200 },
      managementToken: () => Promise.reject(new ManagementTokenRefusedError(401, 'access_denied', 'Unauthorized')),
      logger,
    });
    check.start();
    await check.settled(1000);
    expect(check.summary).toBe('management token refused: 401 access_denied (check AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET)');
    expect(lines).toEqual([]);
    check.stop();
  });

  it('names a host that answers but is no Auth0 tenant, with the status it answered', async () => {
    const { logger } = logSink();
    const { errors } = await import('jose');
    const check = new TenantReadiness({
      origin: ORIGIN,
      signingKeys: {
        loadSigningKeys: () => Promise.reject(new errors.JOSEError('Expected 200 OK from the JSON Web Key Set HTTP response')),
        lastJwksStatus: 404,
      },
      managementToken: () => Promise.resolve('token'),
      logger,
    });
    check.start();
    await check.settled(1000);
    expect(check.summary).toBe(`not an Auth0 tenant: ${ORIGIN}/.well-known/jwks.json answered HTTP 404 (check AUTH0_DOMAIN)`);
    check.stop();
  });

  it('stops retrying when stopped', async () => {
    const { logger } = logSink();
    const { check, attempts } = unreachableTenant(logger);
    check.start();
    await vi.advanceTimersByTimeAsync(0);
    check.stop();
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(attempts()).toBe(1);
  });
});
