import { MockAgent, type Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamUnavailableError } from '../errors.js';
import { UpstreamBreakers } from './breaker.js';
import { withRequestStats } from './request-stats.js';
import { UpstreamClient, type UpstreamOptions } from './upstream.js';

// Inside a request, every upstream wait is bounded by the request's deadline: an attempt's timeout
// is cut to the time left, a retry that could not finish in time is not made, and the breaker
// counts a call that had a fair chance and got no answer. undici's MockAgent stands in for the
// network (no server).

const ORIGIN = 'https://upstream.example';
let agent: MockAgent | undefined;

function client(options: Partial<UpstreamOptions>, reply: (pool: ReturnType<MockAgent['get']>) => void) {
  agent = new MockAgent();
  agent.disableNetConnect();
  reply(agent.get(ORIGIN));
  const stages: string[] = [];
  const http = new UpstreamClient({
    name: 'test',
    connectTimeoutMs: 1000,
    timeoutMs: 10_000,
    maxRetries: 2,
    maxRetryWaitMs: 5000,
    dispatcher: agent as unknown as Agent,
    onDeadline: (stage) => stages.push(stage),
    ...options,
  });
  return { http, stages };
}

afterEach(async () => {
  await agent?.close();
});

describe('UpstreamClient request deadline', () => {
  it('cuts a hanging attempt at the deadline instead of the attempt timeout and its retries', async () => {
    const { http, stages } = client({ requestTimeoutMs: 300 }, (pool) => {
      pool.intercept({ path: '/slow' }).reply(200, {}).delay(5000).persist();
    });
    const started = performance.now();
    const error = await withRequestStats(() => http.send({ method: 'GET', url: `${ORIGIN}/slow` })).catch((caught: unknown) => caught);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect((error as Error).message).toContain("request's time limit");
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1500);
    expect(stages).toEqual(['attempt']);
  });

  it('does not retry a 503 when the retry could not finish before the deadline', async () => {
    let calls = 0;
    const { http, stages } = client({ requestTimeoutMs: 80 }, (pool) => {
      pool
        .intercept({ path: '/down' })
        .reply(() => {
          calls += 1;
          return { statusCode: 503, data: 'down' };
        })
        .delay(40)
        .persist();
    });
    const response = await withRequestStats(() => http.send({ method: 'GET', url: `${ORIGIN}/down` }));
    expect(response.status).toBe(503);
    expect(calls).toBe(1);
    expect(stages).toEqual(['retry']);
  });

  it('has no deadline outside a request', async () => {
    const { http } = client({ requestTimeoutMs: 50 }, (pool) => {
      pool
        .intercept({ path: '/ok' })
        .reply(200, { ok: true }, { headers: { 'content-type': 'application/json' } })
        .delay(150);
    });
    const response = await http.send({ method: 'GET', url: `${ORIGIN}/ok` });
    expect(response.body).toEqual({ ok: true });
  });

  it('opens the breaker after repeated 5xx, then fails without sending', async () => {
    let calls = 0;
    const breakers = new UpstreamBreakers({ failures: 2, openMs: 60_000 });
    let refused = 0;
    const { http } = client({ maxRetries: 0, breakers, onRefused: () => (refused += 1) }, (pool) => {
      pool
        .intercept({ path: '/down' })
        .reply(() => {
          calls += 1;
          return { statusCode: 500, data: 'boom' };
        })
        .persist();
    });
    for (let i = 0; i < 2; i++) expect((await http.send({ method: 'GET', url: `${ORIGIN}/down` })).status).toBe(500);
    expect(http.accepting(`${ORIGIN}/down`)).toBe(false);
    await expect(http.send({ method: 'GET', url: `${ORIGIN}/down` })).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(calls).toBe(2);
    expect(refused).toBe(1);
  });

  it('does not count a 4xx against the upstream', async () => {
    const breakers = new UpstreamBreakers({ failures: 1, openMs: 60_000 });
    const { http } = client({ maxRetries: 0, breakers }, (pool) => {
      pool.intercept({ path: '/missing' }).reply(404, {}).persist();
    });
    for (let i = 0; i < 3; i++) expect((await http.send({ method: 'GET', url: `${ORIGIN}/missing` })).status).toBe(404);
    expect(http.accepting(`${ORIGIN}/missing`)).toBe(true);
  });
});
