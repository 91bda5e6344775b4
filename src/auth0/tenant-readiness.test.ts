import { errors as joseErrors } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProviderRateLimitedError } from '../errors.js';
import { ManagementTokenRefusedError } from './management-token.js';
import { TenantReadiness } from './tenant-readiness.js';
import { logSink } from '../testing/log-sink.js';

// The tenant check retries in the background without hammering the tenant (exponential backoff
// capped at a minute), logs one line per distinct reason, and turns ready once both the keys and
// the token come, without a restart.

const ORIGIN = 'https://acme.eu.auth0.com';

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

/** A promise settled later, by the test: an attempt still under way. */
function pending<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A fetch failure with a system error code, as undici reports it. */
function networkFailure(code: string): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(`request failed ${code}`), { code }) });
}

/** The summary after one attempt whose JWKS fetch fails with `error` (the verifier saw `status`). */
async function keyFailureSummary(error: Error, status?: number): Promise<string> {
  const { logger } = logSink();
  const check = new TenantReadiness({
    origin: ORIGIN,
    signingKeys: { loadSigningKeys: () => Promise.reject(error), lastJwksStatus: status },
    managementToken: () => Promise.resolve('token'),
    logger,
  });
  check.start();
  await check.settled(1000);
  check.stop();
  return check.summary;
}

/** The summary after one attempt whose keys load but whose Management API token fails with `error`. */
async function tokenFailureSummary(error: Error): Promise<string> {
  const { logger } = logSink();
  const check = new TenantReadiness({
    origin: ORIGIN,
    signingKeys: { loadSigningKeys: () => Promise.resolve(1), lastJwksStatus: 200 },
    managementToken: () => Promise.reject(error),
    logger,
  });
  check.start();
  await check.settled(1000);
  check.stop();
  return check.summary;
}

describe('TenantReadiness', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
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
    // A recovery is news for the operator who saw the error line: info, not debug.
    expect(lines[1]).toMatchObject({
      level: 30,
      tenant: ORIGIN,
      msg: `tenant ${ORIGIN} is usable now: signing keys and a Management API token fetched`,
    });
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

  it('says "not checked yet" before start, "checking" during the first attempt, and logs a first success at debug only', async () => {
    const { lines, logger } = logSink();
    const keys = pending<number>();
    const check = new TenantReadiness({
      origin: ORIGIN,
      signingKeys: { loadSigningKeys: () => keys.promise, lastJwksStatus: undefined },
      managementToken: () => Promise.resolve('token'),
      logger,
    });
    expect(check.summary).toBe('not checked yet');
    check.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(check.summary).toBe('checking');
    expect(check.ready).toBe(false);
    keys.resolve(2);
    await check.settled(1000);
    expect(check.summary).toBe('ok');
    expect(lines).toEqual([
      expect.objectContaining({
        level: 20,
        event: 'tenant_ready',
        tenant: ORIGIN,
        msg: `tenant ${ORIGIN}: signing keys and a Management API token fetched`,
      }),
    ]);
    check.stop();
  });

  it('waits for the first attempt at most the given time', async () => {
    const { logger } = logSink();
    const check = new TenantReadiness({
      origin: ORIGIN,
      signingKeys: { loadSigningKeys: () => pending<number>().promise, lastJwksStatus: undefined },
      managementToken: () => Promise.resolve('token'),
      logger,
    });
    check.start();
    let settled = false;
    void check.settled(1000).then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBe(true);
    expect(check.summary).toBe('checking');
    check.stop();
  });

  it('leaves no timer behind once the first attempt settles before the wait runs out', async () => {
    const { logger } = logSink();
    const check = new TenantReadiness({
      origin: ORIGIN,
      signingKeys: { loadSigningKeys: () => Promise.resolve(1), lastJwksStatus: 200 },
      managementToken: () => Promise.resolve('token'),
      logger,
    });
    check.start();
    await check.settled(60_000);
    expect(check.ready).toBe(true);
    // A leftover wait timer would hold a shutting-down process open for up to a minute.
    expect(vi.getTimerCount()).toBe(0);
    check.stop();
  });

  it('does not wait for a retry: only the first attempt is waited for', async () => {
    const { logger } = logSink();
    let attempts = 0;
    const check = new TenantReadiness({
      origin: ORIGIN,
      signingKeys: {
        loadSigningKeys: () => {
          attempts += 1;
          return attempts === 1 ? Promise.reject(refusedConnection()) : pending<number>().promise;
        },
        lastJwksStatus: undefined,
      },
      managementToken: () => Promise.resolve('token'),
      logger,
    });
    check.start();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(attempts).toBe(2);
    let settled = false;
    void check.settled(60_000).then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(true);
    check.stop();
  });

  it('ignores an attempt that succeeds after stop', async () => {
    const { lines, logger } = logSink();
    const keys = pending<number>();
    const check = new TenantReadiness({
      origin: ORIGIN,
      signingKeys: { loadSigningKeys: () => keys.promise, lastJwksStatus: undefined },
      managementToken: () => Promise.resolve('token'),
      logger,
    });
    check.start();
    check.stop();
    keys.resolve(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(check.ready).toBe(false);
    expect(check.summary).toBe('checking');
    expect(lines).toEqual([]);
  });

  it('ignores an attempt that fails after stop, and does not retry', async () => {
    const { lines, logger } = logSink();
    const keys = pending<number>();
    let attempts = 0;
    const check = new TenantReadiness({
      origin: ORIGIN,
      signingKeys: {
        loadSigningKeys: () => {
          attempts += 1;
          return keys.promise;
        },
        lastJwksStatus: undefined,
      },
      managementToken: () => Promise.resolve('token'),
      logger,
    });
    check.start();
    check.stop();
    keys.reject(refusedConnection());
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(attempts).toBe(1);
    expect(check.summary).toBe('checking');
    expect(lines).toEqual([]);
  });

  it('waits the first retry delay (minus up to 20 % jitter) after the first failure, and says so in the log', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const { lines, logger } = logSink();
    const { check, attempts } = unreachableTenant(logger);
    check.start();
    await vi.advanceTimersByTimeAsync(0);
    const reason = 'unreachable: connection to acme.eu.auth0.com refused (check AUTH0_DOMAIN)';
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        event: 'tenant_not_ready',
        tenant: ORIGIN,
        reason,
        retryInMs: 800,
        msg: `tenant ${ORIGIN} is not usable: ${reason}; retrying in the background`,
      }),
    ]);
    await vi.advanceTimersByTimeAsync(799);
    expect(attempts()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts()).toBe(2);
    check.stop();
  });

  it("waits as long as Auth0's Retry-After when the token endpoint rate limits", async () => {
    const { lines, logger } = logSink();
    let tokenRequests = 0;
    const check = new TenantReadiness({
      origin: ORIGIN,
      signingKeys: { loadSigningKeys: () => Promise.resolve(1), lastJwksStatus: 200 },
      managementToken: () => {
        tokenRequests += 1;
        return Promise.reject(new ProviderRateLimitedError('auth0', 30));
      },
      logger,
    });
    check.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(check.summary).toBe('management token not fetched: Auth0 rate limits the token endpoint (retry after 30 s)');
    expect(lines).toEqual([expect.objectContaining({ event: 'tenant_not_ready', retryInMs: 30_000 })]);
    await vi.advanceTimersByTimeAsync(29_999);
    expect(tokenRequests).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(tokenRequests).toBe(2);
    check.stop();
  });

  it('names a token failure by its message', async () => {
    expect(await tokenFailureSummary(new Error('socket hang up'))).toBe('management token not fetched: socket hang up');
  });

  it('reports a check that itself failed rather than hiding it', async () => {
    const { logger } = logSink();
    const check = new TenantReadiness({
      origin: 'not a url',
      signingKeys: { loadSigningKeys: () => Promise.reject(refusedConnection()), lastJwksStatus: undefined },
      managementToken: () => Promise.resolve('token'),
      logger,
    });
    check.start();
    await check.settled(1000);
    expect(check.summary).toBe('check failed: TypeError: Invalid URL');
    check.stop();
  });

  const JWKS_URL = `${ORIGIN}/.well-known/jwks.json`;
  it.each<[name: string, error: Error, status: number | undefined, summary: string]>([
    ['a JWKS request that timed out', new joseErrors.JWKSTimeout(), undefined, `unreachable: ${JWKS_URL} gave no answer within 5 s`],
    [
      'a 200 answer that is no key set',
      new joseErrors.JOSEError('JSON Web Key Set malformed'),
      200,
      `not an Auth0 tenant: ${JWKS_URL} answered no JSON Web Key Set (check AUTH0_DOMAIN)`,
    ],
    [
      'a key set rejected before any status was seen',
      new joseErrors.JOSEError('JSON Web Key Set malformed'),
      undefined,
      `not an Auth0 tenant: ${JWKS_URL} answered no JSON Web Key Set (check AUTH0_DOMAIN)`,
    ],
    ...['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL'].map(
      (code) =>
        [
          `a failed DNS lookup (${code})`,
          networkFailure(code),
          undefined,
          `unreachable: DNS lookup of acme.eu.auth0.com failed (${code}; check AUTH0_DOMAIN)`,
        ] satisfies [string, Error, undefined, string],
    ),
    ['a TLS failure', networkFailure('CERT_HAS_EXPIRED'), undefined, 'unreachable: TLS with acme.eu.auth0.com failed (CERT_HAS_EXPIRED)'],
    ['another network failure', networkFailure('ECONNRESET'), undefined, 'unreachable: acme.eu.auth0.com (ECONNRESET)'],
    [
      'a fetch failure without a code',
      new TypeError('fetch failed', { cause: new Error('bad port') }),
      undefined,
      `unreachable: ${JWKS_URL} could not be fetched (fetch failed: bad port)`,
    ],
  ])('names %s in terms of what to check', async (_name, error, status, summary) => {
    expect(await keyFailureSummary(error, status)).toBe(summary);
  });
});
