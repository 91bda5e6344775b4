import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { clusterAvailable, postGraphQL, startHarness, type Harness, type RunningGateway } from './helpers/harness.js';

// One refresh per identity at a time, within a process and across instances that
// share one Redis. Grace's Google token is seeded expired, so every request below needs a renewal.
// All of it on one Redis server and on a Redis Cluster (the lock, the record and the dead marker of
// an identity share a hash slot there); the cluster runs are skipped when the run has no cluster.

const STORES = [
  { store: 'one Redis server', redis: 'single' },
  { store: 'a Redis Cluster', redis: 'cluster' },
] as const;

const QUERY = '{ me { id google { accessToken } } }';

async function userinfoStatus(h: Harness, token: string): Promise<number> {
  const response = await fetch(`${h.sandbox.google.origin}/oauth2/v3/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

describe.each(STORES)('on $store', ({ store, redis }) => {
  if (redis === 'cluster' && !clusterAvailable()) {
    it.skip('needs a Redis Cluster (this run has none: see test/setup/redis.ts)', () => {});
    return;
  }

  describe('single flight within one instance', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ redis });
    });
    afterAll(async () => h?.close());

    it('renews once for 50 concurrent requests, and all of them get the renewed token', async () => {
      const caller = await h.token(SEED_USERS.grace, 'read:user_idp_tokens');
      const answers = await Promise.all(Array.from({ length: 50 }, () => h.query<{ me: { google: { accessToken: string } } }>(caller, QUERY)));
      const tokens = new Set(answers.map((answer) => answer.data?.me.google.accessToken));
      expect(answers.every((answer) => answer.errors === undefined)).toBe(true);
      expect(tokens.size).toBe(1);
      expect(h.sandbox.google.count('token')).toBe(1);
      // The one Management read that adopted the tokens served all 50 requests.
      expect(h.sandbox.tenant.count('getUser')).toBe(1);
      expect(await userinfoStatus(h, [...tokens][0]!)).toBe(200);
    });
  });

  describe('single flight across instances', () => {
    let h: Harness;
    let gateways: RunningGateway[];
    beforeAll(async () => {
      h = await startHarness({ redis });
      gateways = [h.main, await h.startGateway(), await h.startGateway()];
    });
    afterAll(async () => h?.close());

    it(`renews once for 60 concurrent requests spread over 3 instances sharing ${store}`, async () => {
      const caller = await h.token(SEED_USERS.grace, 'read:user_idp_tokens');
      const answers = await Promise.all(
        Array.from({ length: 60 }, (_, i) => postGraphQL<{ me: { google: { accessToken: string } } }>(gateways[i % 3]!.url, caller, QUERY)),
      );
      expect(answers.map((answer) => answer.errors)).toEqual(Array(60).fill(undefined));
      const tokens = new Set(answers.map((answer) => answer.data?.me.google.accessToken));
      expect(tokens.size).toBe(1);
      expect(h.sandbox.google.count('token')).toBe(1);
      expect(await userinfoStatus(h, [...tokens][0]!)).toBe(200);
      // Every instance reports the same renewed state.
      for (const gateway of gateways) {
        const status = await postGraphQL<{ me: { google: { token: { state: string; hasRefreshToken: boolean } } } }>(
          gateway.url,
          caller,
          '{ me { google { token { state hasRefreshToken } } } }',
        );
        expect(status.data?.me.google.token).toEqual({ state: 'VALID', hasRefreshToken: true });
      }
    });
  });
});

describe('waiting for another instance that renews', () => {
  let h: Harness;
  let impatient: RunningGateway;
  beforeAll(async () => {
    h = await startHarness();
    impatient = await h.startGateway({ REQUEST_TIMEOUT_MS: '1000' });
  });
  afterAll(async () => h?.close());

  it('never outlasts the waiting request’s deadline (REQUEST_TIMEOUT_MS); the renewal still serves the requests after it', async () => {
    const caller = await h.token(SEED_USERS.grace, 'read:user_idp_tokens');
    // Google's token endpoint answers after 3 s: the first instance holds the renewal lock that long.
    h.sandbox.google.injectFault('token', { delayMs: 3_000, times: 1 });
    const holder = h.query<{ me: { google: { accessToken: string } } }>(caller, QUERY);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    const waiter = await postGraphQL<{ me: { google: { accessToken: string | null } | null } }>(impatient.url, caller, QUERY);
    const waited = Date.now() - started;
    expect(waiter.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(waited).toBeLessThan(2_500);
    const renewed = await holder;
    expect(renewed.errors).toBeUndefined();
    expect(h.sandbox.google.count('token')).toBe(1);
    const after = await postGraphQL<{ me: { google: { accessToken: string } } }>(impatient.url, caller, QUERY);
    expect(after.data?.me.google.accessToken).toBe(renewed.data?.me.google.accessToken);
  });
});
