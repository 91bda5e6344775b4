import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProviderRateLimitedError, UpstreamUnavailableError } from '../errors.js';
import { setRequestCaller, withRequestStats } from '../http/request-stats.js';
import type { UpstreamClient, UpstreamResponse } from '../http/upstream.js';
import { createLogger } from '../logger.js';
import { ManagementClient, type ManagementClientDeps } from './management-client.js';
import type { ManagementTokenProvider } from './management-token.js';

// The Management queue listens to Auth0's rate-limit answers (it pauses until the reset, and fails
// fast when that is beyond the retry budget), and serves callers in turns: each caller's n-th waiting
// call competes with every other caller's n-th. Everything is read off a fake tenant that records
// the user ids it was asked for, in order; the clock is faked so waits are exact.

const NOW = Date.UTC(2030, 0, 1, 0, 0, 0);

/** A tenant that answers every GET /users/{id} with that user; with `hold`, only when released. */
function fakeTenant(hold: boolean) {
  const sent: string[] = [];
  const held: (() => void)[] = [];
  const http = {
    accepting: () => true,
    refusal: () => new UpstreamUnavailableError('auth0', 'circuit open'),
    send: (request: { url: string }) => {
      const id = decodeURIComponent(request.url.split('/').pop() ?? '');
      sent.push(id);
      const answer: UpstreamResponse = { status: 200, headers: {}, body: { user_id: id, identities: [] }, durationMs: 1, attempts: 1 };
      if (!hold) return Promise.resolve(answer);
      return new Promise<UpstreamResponse>((resolve) => held.push(() => resolve(answer)));
    },
  } as unknown as UpstreamClient;
  /** Lets the oldest held call answer, and gives the queue a moment to start the next one. */
  async function releaseNext(): Promise<void> {
    held.shift()?.();
    await vi.advanceTimersByTimeAsync(1);
  }
  return { http, sent, releaseNext };
}

function managementClient(http: UpstreamClient, deps: Partial<ManagementClientDeps> = {}) {
  const tokens = { token: () => Promise.resolve('m2m'), invalidate: () => Promise.resolve() } as unknown as ManagementTokenProvider;
  let dropped = 0;
  const client = new ManagementClient({
    origin: 'https://acme.eu.auth0.com',
    http,
    tokens,
    maxConcurrency: 1,
    maxRequestsPerSecond: 1000,
    maxRetryWaitMs: 60_000,
    onQueueDeadline: () => (dropped += 1),
    logger: createLogger('silent'),
    ...deps,
  });
  return { client, dropped: () => dropped };
}

/** Runs `work` as one request of `caller`. */
function asRequest<T>(caller: string, work: () => T): T {
  return withRequestStats(() => {
    setRequestCaller(caller);
    return work();
  });
}

/** Asks for each id as one request of `caller`; the results are caught so none goes unhandled. */
function getUsers(client: ManagementClient, caller: string, ids: string[]): Promise<unknown[]> {
  return asRequest(caller, () => Promise.all(ids.map((id) => client.getUser(id).catch((error: unknown) => error))));
}

/** What `promise` has settled with once the work due now has run ('pending' if nothing yet): for "fails at once". */
async function outcomeNow(promise: Promise<unknown>): Promise<unknown> {
  let outcome: unknown = 'pending';
  promise.then(
    (value) => (outcome = value),
    (error: unknown) => (outcome = error),
  );
  await vi.advanceTimersByTimeAsync(0);
  return outcome;
}

/** A 429 from Auth0 asking to wait `seconds`. */
const tooManyRequests = (seconds: number) => ({ status: 429, headers: { 'retry-after': String(seconds) }, durationMs: 1 });

beforeEach(() => {
  vi.useFakeTimers({ now: NOW });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ManagementClient rate-limit pause', () => {
  it('holds calls after a 429 until Auth0 says the bucket refills, then sends them', async () => {
    const { http, sent } = fakeTenant(false);
    const { client } = managementClient(http);
    client.observe(tooManyRequests(2));
    const user = client.getUser('auth0|waits');
    await vi.advanceTimersByTimeAsync(1900);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(sent).toEqual(['auth0|waits']);
    expect(await user).toMatchObject({ user_id: 'auth0|waits' });
  });

  it('pauses on an empty bucket (x-ratelimit-remaining 0) even when the answer was not a 429', async () => {
    const { http, sent } = fakeTenant(false);
    const { client } = managementClient(http);
    client.observe({ status: 200, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW / 1000 + 2) }, durationMs: 1 });
    const user = client.getUser('auth0|waits');
    await vi.advanceTimersByTimeAsync(1900);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(await user).toMatchObject({ user_id: 'auth0|waits' });
  });

  it('does not pause while the bucket still has calls left', async () => {
    const { http, sent } = fakeTenant(false);
    const { client } = managementClient(http, { maxRetryWaitMs: 5000 });
    client.observe({ status: 200, headers: { 'x-ratelimit-remaining': '5', 'x-ratelimit-reset': String(NOW / 1000 + 30) }, durationMs: 1 });
    client.observe({ status: 200, headers: { 'x-ratelimit-limit': '50' }, durationMs: 1 });
    await expect(client.getUser('auth0|now')).resolves.toMatchObject({ user_id: 'auth0|now' });
    expect(sent).toEqual(['auth0|now']);
  });

  it('a later, longer reset extends the pause', async () => {
    const { http, sent } = fakeTenant(false);
    const { client } = managementClient(http);
    client.observe(tooManyRequests(2));
    client.observe(tooManyRequests(10));
    const user = client.getUser('auth0|waits');
    await vi.advanceTimersByTimeAsync(3000);
    expect(sent).toEqual([]);
    await vi.advanceTimersByTimeAsync(7100);
    expect(await user).toMatchObject({ user_id: 'auth0|waits' });
  });

  it('a later, shorter reset does not cut the pause short', async () => {
    const { http, sent } = fakeTenant(false);
    const { client } = managementClient(http, { maxRetryWaitMs: 5000 });
    client.observe(tooManyRequests(30));
    client.observe(tooManyRequests(1));
    const error = await outcomeNow(client.getUser('auth0|x'));
    expect(error).toBeInstanceOf(ProviderRateLimitedError);
    expect((error as ProviderRateLimitedError).extensions).toMatchObject({ retryAfter: 30 });
    await vi.advanceTimersByTimeAsync(2000);
    expect(sent).toEqual([]);
  });

  it('fails at once with PROVIDER_RATE_LIMITED (auth0, the seconds left) when the pause exceeds the retry budget', async () => {
    const { http, sent } = fakeTenant(false);
    const { client } = managementClient(http, { maxRetryWaitMs: 5000 });
    client.observe(tooManyRequests(30));
    const error = await outcomeNow(client.getUser('auth0|x'));
    expect(error).toBeInstanceOf(ProviderRateLimitedError);
    expect((error as ProviderRateLimitedError).extensions).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', provider: 'auth0', retryAfter: 30 });
    expect(sent).toEqual([]);
  });

  it('waits a pause exactly as long as the retry budget', async () => {
    const { http } = fakeTenant(false);
    const { client } = managementClient(http, { maxRetryWaitMs: 2000 });
    client.observe(tooManyRequests(2));
    const user = client.getUser('auth0|waits').catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(2100);
    expect(await user).toMatchObject({ user_id: 'auth0|waits' });
  });

  it('fails at once when the pause outlasts the request deadline, though it fits the retry budget', async () => {
    const { http, sent } = fakeTenant(false);
    const { client } = managementClient(http, { maxRetryWaitMs: 5000, requestTimeoutMs: 1000 });
    client.observe(tooManyRequests(2));
    const [error] = (await outcomeNow(getUsers(client, 'someone', ['auth0|x']))) as unknown[];
    expect(error).toBeInstanceOf(ProviderRateLimitedError);
    expect((error as ProviderRateLimitedError).extensions).toMatchObject({ retryAfter: 2 });
    expect(sent).toEqual([]);
  });
});

describe('ManagementClient turns', () => {
  it("serves each caller's n-th waiting call with every other caller's n-th, counting from where the queue stands", async () => {
    const { http, sent, releaseNext } = fakeTenant(true);
    const { client } = managementClient(http);
    const hung = client.getUser('H').catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1);
    const batch = getUsers(client, 'partner', ['A1', 'A2', 'A3', 'A4']);
    const other = getUsers(client, 'other', ['B1', 'B2']);
    await releaseNext(); // H answers, A1 starts.
    // A newcomer queues right behind the calls of the turn after A1, not behind the whole batch,
    // and the partner's next call comes after its own waiting ones.
    const newcomer = getUsers(client, 'newcomer', ['C1']);
    const more = getUsers(client, 'partner', ['A5']);
    for (let i = 0; i < 8; i++) await releaseNext();
    expect(sent).toEqual(['H', 'A1', 'B1', 'A2', 'B2', 'C1', 'A3', 'A4', 'A5']);
    await Promise.all([hung, batch, other, newcomer, more]);
  });

  it('a caller whose waiting calls were dropped at their deadline is not pushed back for them', async () => {
    const { http, sent, releaseNext } = fakeTenant(true);
    const { client, dropped } = managementClient(http, { requestTimeoutMs: 1000 });
    const hung = client.getUser('H').catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1);
    const late = getUsers(client, 'partner', ['A1', 'A2', 'A3']);
    await vi.advanceTimersByTimeAsync(1100);
    const errors = await late;
    expect(dropped()).toBe(3);
    for (const error of errors) {
      expect(error).toBeInstanceOf(UpstreamUnavailableError);
      expect((error as Error).message).toBe("auth0 is unavailable: no Management API call could start within the request's time limit");
    }
    const first = getUsers(client, 'other', ['B1', 'B2']);
    const again = getUsers(client, 'partner', ['A4']);
    const last = getUsers(client, 'other', ['B3']);
    for (let i = 0; i < 5; i++) await releaseNext();
    expect(sent).toEqual(['H', 'B1', 'A4', 'B2', 'B3']);
    await Promise.all([hung, first, again, last]);
  });

  it('outside a request, a queued call waits as long as it takes (no deadline)', async () => {
    const { http, sent, releaseNext } = fakeTenant(true);
    const { client, dropped } = managementClient(http, { requestTimeoutMs: 1000 });
    const hung = client.getUser('H');
    const queued = client.getUser('Q');
    await vi.advanceTimersByTimeAsync(10_000);
    await releaseNext();
    await releaseNext();
    expect(await hung).toMatchObject({ user_id: 'H' });
    expect(await queued).toMatchObject({ user_id: 'Q' });
    expect(sent).toEqual(['H', 'Q']);
    expect(dropped()).toBe(0);
  });
});

describe('ManagementClient close', () => {
  it('waits for the call in flight, drops the queued ones, and leaves no timer behind', async () => {
    const { http, sent, releaseNext } = fakeTenant(true);
    const { client } = managementClient(http);
    const inFlight = client.getUser('H');
    void client.getUser('Q');
    await vi.advanceTimersByTimeAsync(1);
    client.observe(tooManyRequests(30));
    let closed = false;
    const closing = client.close().then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(1);
    expect(closed).toBe(false);
    await releaseNext();
    await closing;
    expect(vi.getTimerCount()).toBe(0);
    expect(await inFlight).toMatchObject({ user_id: 'H' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toEqual(['H']);
  });
});
