import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { postGraphQL, startHarness, type Harness } from './helpers/harness.js';

// A frontend asks every linked provider in one query; one provider's failure
// nulls only its field, with a precise code, and every other field still arrives.

const ALL_PROVIDERS = `{
  me {
    id
    google { profile { sub } }
    facebook { profile { id } }
    bitbucket { account { uuid } }
    identities { provider ... on OAuth2Identity { request(path: "/me") } }
  }
}`;

interface AllProviders {
  me: {
    id: string;
    google: { profile: { sub: string } | null };
    facebook: { profile: { id: string } | null };
    bitbucket: { account: { uuid: string } | null };
    identities: { provider: string; request?: unknown }[];
  };
}

let h: Harness;
let ada: string;

beforeAll(async () => {
  h = await startHarness({ env: { UPSTREAM_TIMEOUT_MS: '400' } });
  ada = await h.token(SEED_USERS.ada);
});
afterAll(async () => h?.close());

describe('one query across every provider', () => {
  it('answers every provider and reports each upstream in extensions.upstream', async () => {
    const answer = await postGraphQL<AllProviders>(h.main.url, ada, ALL_PROVIDERS, undefined, { 'x-upstream-stats': '1' });
    expect(answer.errors).toBeUndefined();
    const me = answer.data!.me;
    expect(me.google.profile?.sub).toEqual(expect.any(String));
    expect(me.facebook.profile?.id).toEqual(expect.any(String));
    expect(me.bitbucket.account?.uuid).toMatch(/^\{.+\}$/);
    expect(me.identities.find((identity) => identity.provider === 'oauth2')?.request).toMatchObject({ id: expect.anything() });
    const upstream = answer.extensions?.upstream as Record<string, { requests: number }>;
    expect(Object.keys(upstream).sort()).toEqual(['auth0', 'bitbucket', 'facebook', 'google-oauth2', 'oauth2']);
    expect(upstream.auth0?.requests).toBeGreaterThanOrEqual(1);
  });

  it('nulls only the failing providers, each with its own code, and keeps the rest', async () => {
    h.sandbox.google.injectFault('userinfo', { hang: true, times: 3 });
    h.sandbox.facebook.injectFault('me', {
      status: 500,
      body: { error: { message: 'An unknown error has occurred.', type: 'OAuthException', code: 1 } },
      times: 3,
    });
    h.sandbox.bitbucket.injectFault('user', {
      status: 429,
      headers: { 'retry-after': '120' },
      body: { type: 'error', error: { message: 'Rate limit exceeded' } },
    });
    h.sandbox.oauth2.injectFault('api', { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' }, body: { error: 'invalid_token' } });
    const grants = h.sandbox.oauth2.count('token');

    const answer = await h.query<AllProviders>(ada, ALL_PROVIDERS);
    expect(answer.status).toBe(200);
    const me = answer.data!.me;
    expect(me.id).toBe(SEED_USERS.ada);
    expect(me.google.profile).toBeNull();
    expect(me.facebook.profile).toBeNull();
    expect(me.bitbucket.account).toBeNull();
    // The custom provider refused the token once: renewed, retried, answered.
    expect(me.identities.find((identity) => identity.provider === 'oauth2')?.request).toMatchObject({ id: expect.anything() });
    expect(h.sandbox.oauth2.count('token') - grants).toBe(1);

    const byPath = Object.fromEntries((answer.errors ?? []).map((error) => [error.path?.join('.'), error.extensions]));
    expect(byPath).toEqual({
      'me.google.profile': expect.objectContaining({ code: 'UPSTREAM_UNAVAILABLE', provider: 'google-oauth2' }),
      'me.facebook.profile': expect.objectContaining({ code: 'UPSTREAM_UNAVAILABLE', provider: 'facebook' }),
      'me.bitbucket.account': expect.objectContaining({ code: 'PROVIDER_RATE_LIMITED', provider: 'bitbucket', retryAfter: 120 }),
    });
  });
});
