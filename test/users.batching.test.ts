import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { rawUser, errorCodes, startHarness, type Harness } from './helpers/harness.js';

// A batch of users costs one search per chunk plus one GET per id the (eventually
// consistent) search missed; repeated queries are answered from the cache. Counted on the fake.

let h: Harness;
let partner: string;

function managementCalls() {
  const t = h.sandbox.tenant;
  return { search: t.count('searchUsers'), get: t.count('getUser') };
}

beforeAll(async () => {
  h = await startHarness();
  partner = await h.token('partner-app@clients', 'read:users');
});
afterAll(async () => h?.close());

describe('users(ids) batching', () => {
  const ids = Array.from({ length: 40 }, (_, i) => `github|${1_000_000 + i}`);

  beforeAll(() => {
    ids.forEach((id, i) => h.sandbox.tenant.addUser(rawUser(id, { user_id: 1_000_000 + i })));
    // Freshly created accounts the search index has not caught up with.
    for (const id of ids.slice(10, 13)) h.sandbox.tenant.unindexed.add(id);
  });

  it('reads 40 users with one search and a GET for each id the search missed', async () => {
    const before = managementCalls();
    const answer = await h.query<{ users: { id: string; identities: { userId: string }[] }[] }>(
      partner,
      'query ($ids: [ID!]!) { users(ids: $ids) { id identities { userId } } }',
      { ids },
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.users.map((u) => u.id)).toEqual(ids);
    // Numeric identity ids from Auth0 come out as strings.
    expect(answer.data?.users[0]?.identities[0]?.userId).toBe('1000000');
    const after = managementCalls();
    expect(after.search - before.search).toBe(1);
    expect(after.get - before.get).toBe(3);
  });

  it('answers the same query again from the cache without calling Auth0', async () => {
    const before = managementCalls();
    const answer = await h.query(partner, 'query ($ids: [ID!]!) { users(ids: $ids) { id } }', { ids });
    expect(answer.errors).toBeUndefined();
    expect(managementCalls()).toEqual(before);
  });

  it('shares the cache across gateway instances through Redis', async () => {
    const other = await h.startGateway();
    const before = managementCalls();
    const response = await fetch(other.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${partner}` },
      body: JSON.stringify({ query: 'query ($ids: [ID!]!) { users(ids: $ids) { id } }', variables: { ids } }),
    });
    expect(((await response.json()) as { data: { users: unknown[] } }).data.users).toHaveLength(40);
    expect(managementCalls()).toEqual(before);
  });

  it('puts me, user and users of one request into one batch', async () => {
    const fresh = Array.from({ length: 5 }, (_, i) => `github|${2_000_000 + i}`);
    fresh.forEach((id) => h.sandbox.tenant.addUser(rawUser(id)));
    h.sandbox.tenant.addUser(rawUser('github|2999999'));
    const token = await h.token('github|2999999', 'read:users');
    const before = managementCalls();
    const answer = await h.query(
      token,
      `query ($ids: [ID!]!) {
      me { id }
      first: user(id: "${fresh[0]}") { id }
      users(ids: $ids) { id }
    }`,
      { ids: fresh },
    );
    expect(answer.errors).toBeUndefined();
    const after = managementCalls();
    expect(after.search - before.search).toBe(1);
    expect(after.get - before.get).toBe(0);
  });

  it('keeps the order of ids, repeats duplicates and gives null for users that do not exist', async () => {
    const before = managementCalls();
    const answer = await h.query<{ users: ({ id: string } | null)[] }>(
      partner,
      `{
      users(ids: ["github|1000001", "auth0|does-not-exist", "github|1000000", "github|1000001"]) { id }
    }`,
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.users).toEqual([{ id: 'github|1000001' }, null, { id: 'github|1000000' }, { id: 'github|1000001' }]);
    // The cached ones cost nothing; the missing one costs one GET that answers 404.
    expect(managementCalls().get - before.get).toBe(1);
  });

  it('refuses more than 100 ids before calling Auth0', async () => {
    const before = managementCalls();
    const many = Array.from({ length: 101 }, (_, i) => `auth0|${i}`);
    const answer = await h.query(partner, 'query ($ids: [ID!]!) { users(ids: $ids) { id } }', { ids: many });
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(managementCalls()).toEqual(before);
  });

  it('splits long id lists into several searches that stay under the URL limit', async () => {
    const long = Array.from({ length: 100 }, (_, i) => `oauth2|corp-sso|${'x'.repeat(60)}-${i}`);
    long.forEach((id) => h.sandbox.tenant.addUser(rawUser(id)));
    const before = managementCalls();
    const firstRequest = h.sandbox.tenant.requests.length;
    const answer = await h.query<{ users: { id: string }[] }>(partner, 'query ($ids: [ID!]!) { users(ids: $ids) { id } }', { ids: long });
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.users.map((u) => u.id)).toEqual(long);
    const searches = h.sandbox.tenant.requests.slice(firstRequest).filter((r) => r.route === 'searchUsers');
    expect(searches.length).toBeGreaterThan(1);
    for (const search of searches) expect(h.sandbox.tenant.origin.length + search.url.length).toBeLessThanOrEqual(4000);
    expect(managementCalls().get - before.get).toBe(0);
  });
});

describe('single users', () => {
  it('reads one uncached user with a single GET and no search', async () => {
    const before = managementCalls();
    const answer = await h.query(partner, `{ user(id: "${SEED_USERS.margaret}") { id email } }`);
    expect(answer.data).toEqual({ user: { id: SEED_USERS.margaret, email: null } });
    expect(managementCalls()).toEqual({ search: before.search, get: before.get + 1 });
  });

  it('gives null, not an error, for a user that does not exist', async () => {
    const answer = await h.query(partner, '{ user(id: "auth0|nobody") { id } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ user: null });
  });

  it('shows a GitHub identity whose Auth0 user_id is a number as a string', async () => {
    const answer = await h.query<{ user: { identities: { provider: string; userId: string; __typename: string }[] } }>(
      partner,
      `{ user(id: "${SEED_USERS.grace}") { identities { __typename provider userId } } }`,
    );
    expect(answer.data?.user.identities[0]).toEqual({ __typename: 'GitHubIdentity', provider: 'github', userId: '1234567' });
  });

  it('returns identities primary first with the provider types and shortcuts', async () => {
    const answer = await h.query<{ user: Record<string, unknown> }>(
      partner,
      `{
      user(id: "${SEED_USERS.ada}") {
        identities { __typename provider connection isSocial }
        google { connection } facebook { connection } bitbucket { connection }
      }
    }`,
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.user).toEqual({
      identities: [
        { __typename: 'GoogleIdentity', provider: 'google-oauth2', connection: 'google-oauth2', isSocial: true },
        { __typename: 'FacebookIdentity', provider: 'facebook', connection: 'facebook', isSocial: true },
        { __typename: 'BitbucketIdentity', provider: 'bitbucket', connection: 'bitbucket', isSocial: true },
        { __typename: 'OAuth2Identity', provider: 'oauth2', connection: 'my-custom-oauth', isSocial: true },
      ],
      google: { connection: 'google-oauth2' },
      facebook: { connection: 'facebook' },
      bitbucket: { connection: 'bitbucket' },
    });
  });
});

describe('token status from Auth0', () => {
  it('reports expiry, refresh token and state without exposing a token', async () => {
    const answer = await h.query<{ user: { identities: { provider: string; token: Record<string, unknown> }[] } }>(
      partner,
      `{
      user(id: "${SEED_USERS.grace}") { identities { provider token { state expiresAt hasRefreshToken } } }
    }`,
    );
    const [github, google] = answer.data!.user.identities;
    expect(github?.token).toEqual({ state: 'UNKNOWN', expiresAt: null, hasRefreshToken: false });
    // Grace's Google token was stored at her last login two hours ago with expires_in 3599: expired, renewable.
    expect(google?.token).toMatchObject({ state: 'EXPIRED', hasRefreshToken: true });
    expect(Date.parse(String(google?.token.expiresAt))).toBeLessThan(Date.now());
    expect(JSON.stringify(answer)).not.toContain(h.sandbox.users!.tokens.grace.google.access_token);
  });

  it('reads token presence with one GET per user when the cached record came from a search', async () => {
    const ids = [SEED_USERS.linus, SEED_USERS.alan];
    await h.query(partner, 'query ($ids: [ID!]!) { users(ids: $ids) { id } }', { ids });
    const before = managementCalls();
    const answer = await h.query<{ users: { identities: { token: { hasRefreshToken: boolean } }[] }[] }>(
      partner,
      'query ($ids: [ID!]!) { users(ids: $ids) { identities { token { hasRefreshToken } } } }',
      { ids },
    );
    expect(answer.data?.users[1]?.identities[0]?.token.hasRefreshToken).toBe(true);
    expect(managementCalls()).toEqual({ search: before.search, get: before.get + 2 });
    // The records now know; the next query is free.
    await h.query(partner, 'query ($ids: [ID!]!) { users(ids: $ids) { identities { token { hasRefreshToken } } } }', { ids });
    expect(managementCalls()).toEqual({ search: before.search, get: before.get + 2 });
  });
});
