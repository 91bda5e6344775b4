import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { clusterAvailable, postGraphQL, startHarness, type Harness, type RunningGateway } from './helpers/harness.js';

// Bitbucket rotates the refresh token on every use and, with reuse detection, a
// refresh token presented twice revokes the whole family. Across several expiries and several
// instances the gateway must present each refresh token exactly once and keep the rotated one.
//
// Only Date is faked: the gateway and the fakes run in this process and both see the clock jump
// past the 2-hour access-token lifetime, while timers, sockets and Redis leases stay real.
//
// All of it on one Redis server and on a Redis Cluster (the identity's record and lock share a hash
// slot there); the cluster runs are skipped when the run has no cluster.

const STORES = [
  { store: 'one Redis server', redis: 'single' },
  { store: 'a Redis Cluster', redis: 'cluster' },
] as const;

const TWO_HOURS_AND_A_BIT = 2 * 3600_000 + 120_000;
const QUERY = '{ me { bitbucket { accessToken token { state hasRefreshToken } } } }';

describe.each(STORES)('on $store', ({ redis }) => {
  if (redis === 'cluster' && !clusterAvailable()) {
    it.skip('needs a Redis Cluster (this run has none: see test/setup/redis.ts)', () => {});
    return;
  }

  let h: Harness;
  let gateways: RunningGateway[];

  async function bitbucketAccepts(token: string): Promise<boolean> {
    const response = await fetch(`${h.sandbox.bitbucket.origin}/2.0/user`, { headers: { authorization: `Bearer ${token}` } });
    await response.arrayBuffer();
    return response.ok;
  }

  beforeAll(async () => {
    h = await startHarness({ redis });
    gateways = [h.main, await h.startGateway(), await h.startGateway()];
    // Any second use of a refresh token, however soon, is reuse: it revokes the family.
    h.sandbox.bitbucket.options.reuseGraceMs = 0;
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
  });
  afterAll(async () => {
    vi.useRealTimers();
    await h?.close();
  });

  describe('Bitbucket rotating refresh tokens', () => {
    it('keeps the rotated refresh token across several expiries, one grant per expiry, never a reuse', async () => {
      const seen = new Set<string>();
      for (let round = 1; round <= 4; round++) {
        vi.setSystemTime(Date.now() + TWO_HOURS_AND_A_BIT);
        const caller = await h.token(SEED_USERS.alan, 'read:user_idp_tokens');
        const answer = await postGraphQL<{ me: { bitbucket: { accessToken: string; token: { hasRefreshToken: boolean } } } }>(
          gateways[round % 3]!.url,
          caller,
          QUERY,
        );
        expect(answer.errors).toBeUndefined();
        const token = answer.data!.me.bitbucket.accessToken;
        expect(seen.has(token)).toBe(false);
        seen.add(token);
        expect(await bitbucketAccepts(token)).toBe(true);
        expect(h.sandbox.bitbucket.count('token')).toBe(round);
        expect(h.sandbox.bitbucket.familyRevocations).toBe(0);
      }
    });

    it('renews once per expiry when 30 requests hit 3 instances at once, in three rounds', async () => {
      for (let round = 1; round <= 3; round++) {
        const grantsBefore = h.sandbox.bitbucket.count('token');
        vi.setSystemTime(Date.now() + TWO_HOURS_AND_A_BIT);
        const caller = await h.token(SEED_USERS.alan, 'read:user_idp_tokens');
        const answers = await Promise.all(
          Array.from({ length: 30 }, (_, i) => postGraphQL<{ me: { bitbucket: { accessToken: string } } }>(gateways[i % 3]!.url, caller, QUERY)),
        );
        expect(answers.map((answer) => answer.errors)).toEqual(Array(30).fill(undefined));
        const tokens = new Set(answers.map((answer) => answer.data!.me.bitbucket.accessToken));
        expect(tokens.size).toBe(1);
        expect(await bitbucketAccepts([...tokens][0]!)).toBe(true);
        expect(h.sandbox.bitbucket.count('token') - grantsBefore).toBe(1);
      }
      expect(h.sandbox.bitbucket.familyRevocations).toBe(0);
    });

    it('never returns the refresh token through GraphQL', async () => {
      const caller = await h.token(SEED_USERS.alan, 'read:user_idp_tokens');
      const answer = await postGraphQL(h.main.url, caller, '{ me { identities { accessToken token { state expiresAt hasRefreshToken } } } }');
      const text = JSON.stringify(answer);
      expect(answer.errors).toBeUndefined();
      expect(text).not.toContain(h.sandbox.users!.tokens.alan.bitbucket.refresh_token!);
      expect(text).not.toMatch(/"refresh_?token"/i);
    });
  });

  describe('Bitbucket legacy mode (before 2026-05-04)', () => {
    it('keeps the same reusable refresh token when the response repeats it', async () => {
      h.sandbox.bitbucket.options.mode = 'legacy';
      try {
        for (let round = 1; round <= 2; round++) {
          const grantsBefore = h.sandbox.bitbucket.count('token');
          vi.setSystemTime(Date.now() + TWO_HOURS_AND_A_BIT);
          const caller = await h.token(SEED_USERS.alan, 'read:user_idp_tokens');
          const answer = await postGraphQL<{ me: { bitbucket: { accessToken: string } } }>(h.main.url, caller, QUERY);
          expect(answer.errors).toBeUndefined();
          expect(await bitbucketAccepts(answer.data!.me.bitbucket.accessToken)).toBe(true);
          expect(h.sandbox.bitbucket.count('token') - grantsBefore).toBe(1);
        }
      } finally {
        h.sandbox.bitbucket.options.mode = 'rotating';
      }
    });
  });
});
