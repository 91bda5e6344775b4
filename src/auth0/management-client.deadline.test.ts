import { describe, expect, it } from 'vitest';
import { UpstreamUnavailableError } from '../errors.js';
import { setRequestCaller, withRequestStats } from '../http/request-stats.js';
import type { UpstreamClient, UpstreamResponse } from '../http/upstream.js';
import { createLogger } from '../logger.js';
import { ManagementClient } from './management-client.js';
import type { ManagementTokenProvider } from './management-token.js';

// A call waits in the Management queue no longer than its request's deadline: behind a hung call
// it fails with UPSTREAM_UNAVAILABLE at the deadline (not when the hung call ends), and the queue
// goes on serving afterwards. While the breaker refuses calls, nothing is queued at all.

const OK: UpstreamResponse = { status: 200, headers: {}, body: { user_id: 'auth0|x', identities: [] }, durationMs: 1, attempts: 1 };

function setup(accepting = true) {
  const release: (() => void)[] = [];
  let sent = 0;
  const http = {
    accepting: () => accepting,
    refusal: () => new UpstreamUnavailableError('auth0', 'circuit open'),
    send: () => {
      sent += 1;
      return new Promise<UpstreamResponse>((resolve) => release.push(() => resolve(OK)));
    },
  } as unknown as UpstreamClient;
  const tokens = { token: () => Promise.resolve('m2m'), invalidate: () => Promise.resolve() } as unknown as ManagementTokenProvider;
  let dropped = 0;
  const client = new ManagementClient({
    origin: 'https://acme.eu.auth0.com',
    http,
    tokens,
    maxConcurrency: 1,
    maxRequestsPerSecond: 1000,
    maxRetryWaitMs: 5000,
    requestTimeoutMs: 150,
    onQueueDeadline: () => (dropped += 1),
    logger: createLogger('silent'),
  });
  return { client, release, sent: () => sent, dropped: () => dropped };
}

/** Runs `work` as one request of `caller`. */
function asRequest<T>(caller: string, work: () => Promise<T>): Promise<T> {
  return withRequestStats(() => {
    setRequestCaller(caller);
    return work();
  });
}

describe('ManagementClient request deadline', () => {
  it('drops a queued call at its deadline, and keeps serving afterwards', async () => {
    const { client, release, sent, dropped } = setup();
    const hung = client.getUser('auth0|hung');
    await new Promise((resolve) => setTimeout(resolve, 10));
    const started = performance.now();
    const queued = asRequest('someone', () => client.getUser('auth0|queued')).catch((error: unknown) => error);
    const error = await queued;
    const waited = performance.now() - started;
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect((error as UpstreamUnavailableError).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'auth0' });
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(1000);
    expect(dropped()).toBe(1);
    expect(sent()).toBe(1);

    release.shift()?.();
    expect(await hung).toMatchObject({ user_id: 'auth0|x' });
    const next = asRequest('someone', () => client.getUser('auth0|next'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    release.shift()?.();
    expect(await next).toMatchObject({ user_id: 'auth0|x' });
    expect(sent()).toBe(2);
  });

  it('fails at once without queueing while the breaker refuses calls', async () => {
    const { client, sent } = setup(false);
    await expect(asRequest('someone', () => client.getUser('auth0|x'))).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(sent()).toBe(0);
  });
});
