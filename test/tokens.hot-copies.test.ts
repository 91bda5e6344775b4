import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_ACCOUNTS, SEED_USERS } from '../sandbox/index.js';
import { clusterAvailable, postGraphQL, startHarness, type Harness, type RunningGateway } from './helpers/harness.js';

// Each instance answers a token or user it read moments ago without reading Redis again, but never
// one another instance has replaced: a change is announced through Redis publish/subscribe and
// every instance drops its copy at once. Here instance B renews Ada's Google token; instance A,
// which had just read the old one, hands out the renewed token on its very next request.

const STORES = [
  { store: 'one Redis server', redis: 'single' },
  { store: 'a Redis Cluster', redis: 'cluster' },
] as const;

type TokenAnswer = { me: { google: { accessToken: string } } };
const TOKEN = '{ me { google { accessToken } } }';

describe.each(STORES)('on $store', ({ redis }) => {
  if (redis === 'cluster' && !clusterAvailable()) {
    it.skip('needs a Redis Cluster (this run has none: see test/setup/redis.ts)', () => {});
    return;
  }

  let h: Harness;
  let other: RunningGateway;
  let ada: string;

  beforeAll(async () => {
    h = await startHarness({ redis });
    other = await h.startGateway();
    ada = await h.token(SEED_USERS.ada, 'openid read:user_idp_tokens');
  });
  afterAll(async () => h?.close());

  it('hands out the token another instance renewed, not its own copy of the old one', async () => {
    const old = (await postGraphQL<TokenAnswer>(h.main.url, ada, TOKEN)).data?.me.google.accessToken;
    expect(old).toEqual(expect.any(String));
    // A's copy is hot now: asking again reads nothing.
    expect((await postGraphQL<TokenAnswer>(h.main.url, ada, TOKEN)).data?.me.google.accessToken).toBe(old);

    // Google refuses the old token; B renews on its next call and stores the new one.
    h.sandbox.google.expireAccessTokens(SEED_ACCOUNTS.ada.google);
    const grants = h.sandbox.google.count('token');
    const renewed = await postGraphQL<{ me: { google: { profile: { email: string } } } }>(other.url, ada, '{ me { google { profile { email } } } }');
    expect(renewed.errors).toBeUndefined();
    expect(h.sandbox.google.count('token') - grants).toBe(1);
    const current = (await postGraphQL<TokenAnswer>(other.url, ada, TOKEN)).data?.me.google.accessToken;
    expect(current).not.toBe(old);

    // The announcement travels through Redis; give it the moment it takes on loopback.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await postGraphQL<TokenAnswer>(h.main.url, ada, TOKEN)).data?.me.google.accessToken).toBe(current);
    expect(h.sandbox.google.count('token') - grants).toBe(1);
  });
});
