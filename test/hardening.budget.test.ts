import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { errorCodes, postGraphQL, startHarness, type Harness, type RunningGateway } from './helpers/harness.js';

// No caller can turn one request into thousands of upstream calls. Probes that used to get through,
// each counted at the fakes: 500 aliases of calendarEvents (500 Google calls before), 2,000 aliases
// of OAuth2Identity.request (2,000 calls), three aliases of users(ids:) with 100 unknown ids each
// (306 Management calls). The alias limit refuses them first; a gateway with the alias and token
// limits raised shows the upstream budget refusing them on its own.

let h: Harness;
/** The same sandbox and store, with the document limits out of the way, so the budget is what refuses. */
let loose: RunningGateway;
let ada: string;
let partner: string;

const MULTI_USER = 'oauth2|multi-connection-user';
const MULTI_CONNECTIONS = ['corp-a', 'corp-b', 'corp-c'];

beforeAll(async () => {
  h = await startHarness();
  ada = await h.token(SEED_USERS.ada);
  partner = await h.token('partner-app@clients', 'read:users read:user_idp_tokens');
  loose = await h.startGateway({ MAX_ALIASES: '5000', MAX_TOKENS: '100000' });
});
afterAll(async () => h?.close());

/** Upstream calls at every fake, per fake. */
function upstreamCalls() {
  const { tenant, google, oauth2 } = h.sandbox;
  return {
    auth0: tenant.count('getUser') + tenant.count('searchUsers'),
    google: google.requests.length,
    oauth2: oauth2.count('api'),
  };
}

function aliases(count: number, field: (index: number) => string): string {
  return Array.from({ length: count }, (_, index) => `a${index}: ${field(index)}`).join('\n');
}

const calendarBomb = `{ me { google { ${aliases(500, (i) => `calendarEvents(first: 1, timeMin: "2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(3, '0')}Z") { edges { node { id } } }`)} } } }`;
const requestBomb = `{ me { identities { ... on OAuth2Identity { ${aliases(2000, (i) => `request(path: "/items", query: { page: ${i} })`)} } } } }`;
const unknownIds = (prefix: string) => Array.from({ length: 100 }, (_, i) => `auth0|${prefix}-${i}`);

describe('alias bombs', () => {
  it('refuses 500 aliases of calendarEvents with BAD_USER_INPUT (a document limit), without calling Google', async () => {
    const before = upstreamCalls();
    const answer = await h.query(ada, calendarBomb);
    expect(answer.status).toBe(400);
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    // The token limit stops the parser before the alias count is even taken.
    expect(answer.errors?.[0]?.message).toBe('Token limit of 2000 exceeded.');
    expect(upstreamCalls()).toEqual(before);
  });

  it('refuses them with QUERY_TOO_EXPENSIVE when only the budget stands in the way', async () => {
    const before = upstreamCalls();
    const answer = await postGraphQL(loose.url, ada, calendarBomb);
    expect(answer.status).toBe(400);
    expect(answer.data).toBeUndefined();
    // 500 calendar pages plus the Management read that finds the caller.
    expect(answer.errors).toEqual([expect.objectContaining({ extensions: { code: 'QUERY_TOO_EXPENSIVE', cost: 501, limit: 100 } })]);
    expect(upstreamCalls()).toEqual(before);
  });

  it('refuses 2,000 aliases of OAuth2Identity.request by its token count, and by the budget without the document limits', async () => {
    const before = upstreamCalls();
    const strict = await h.query(ada, requestBomb);
    expect(errorCodes(strict)).toEqual(['BAD_USER_INPUT']);
    expect(strict.errors?.[0]?.message).toBe('Token limit of 2000 exceeded.');
    const answer = await postGraphQL(loose.url, ada, requestBomb);
    expect(answer.errors).toEqual([expect.objectContaining({ extensions: { code: 'QUERY_TOO_EXPENSIVE', cost: 2001, limit: 100 } })]);
    expect(upstreamCalls()).toEqual(before);
  });

  it('counts fragments and user ids as multipliers: a provider field on 100 users is 100 calls', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `auth0|budget-fragment-${i}`);
    const before = upstreamCalls();
    const answer = await postGraphQL(
      loose.url,
      partner,
      'query ($ids: [ID!]!) { users(ids: $ids) { ...G } } fragment G on User { google { profile { email } } }',
      { ids },
    );
    expect(answer.errors).toEqual([expect.objectContaining({ extensions: { code: 'QUERY_TOO_EXPENSIVE', cost: 102, limit: 100 } })]);
    expect(upstreamCalls()).toEqual(before);
  });

  it('costs nothing for fields under @skip(if: true) or @include(if: false)', async () => {
    const answer = await postGraphQL(
      loose.url,
      ada,
      `query ($no: Boolean!) { me { id google @include(if: $no) { ${aliases(200, () => 'profile { sub }')} } } }`,
      {
        no: false,
      },
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ me: { id: SEED_USERS.ada } });
  });
});

describe('user ids', () => {
  it('refuses three aliases of users(ids:) with 100 unknown ids each before any Management call', async () => {
    const before = upstreamCalls();
    const answer = await h.query(
      partner,
      'query ($a: [ID!]!, $b: [ID!]!, $c: [ID!]!) { a: users(ids: $a) { id } b: users(ids: $b) { id } c: users(ids: $c) { id } }',
      { a: unknownIds('a'), b: unknownIds('b'), c: unknownIds('c') },
    );
    expect(answer.status).toBe(400);
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(answer.errors?.[0]?.message).toMatch(/at most 100 user ids .* names 300/);
    expect(upstreamCalls()).toEqual(before);
  });

  it('counts every user and users field together: 100 ids plus one user(id) is one too many', async () => {
    const before = upstreamCalls();
    const answer = await h.query(partner, 'query ($ids: [ID!]!) { users(ids: $ids) { id } user(id: "auth0|one-more") { id } }', { ids: unknownIds('d') });
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(upstreamCalls()).toEqual(before);
  });

  it('keeps users(ids:) with 100 ids reading token and accessToken well inside the budget (it runs with MAX_UPSTREAM_CALLS=10)', async () => {
    // A fast Management limiter: 98 of the ids are unknown, each costing a GET.
    const tight = await h.startGateway({ MAX_UPSTREAM_CALLS: '10', AUTH0_MAX_REQUESTS_PER_SECOND: '500', AUTH0_MAX_CONCURRENCY: '16' });
    const ids = [SEED_USERS.ada, SEED_USERS.grace, ...unknownIds('e').slice(2)];
    const answer = await postGraphQL<{ users: ({ id: string; identities: { token: { state: string }; accessToken: string | null }[] } | null)[] }>(
      tight.url,
      partner,
      'query ($ids: [ID!]!) { users(ids: $ids) { id identities { token { state } accessToken } } }',
      { ids },
    );
    expect(errorCodes(answer)).not.toContain('QUERY_TOO_EXPENSIVE');
    expect(answer.data?.users).toHaveLength(100);
    expect(answer.data?.users[0]?.id).toBe(SEED_USERS.ada);
    expect(answer.data?.users[0]?.identities.every((identity) => typeof identity.accessToken === 'string')).toBe(true);
  });
});

describe('the run-time backstop', () => {
  beforeAll(() => {
    // One user with three custom OAuth2 identities: the estimate assumes one per type, so only the
    // count during execution can see the third call.
    const { oauth2, tenant } = h.sandbox;
    const now = new Date().toISOString();
    tenant.addUser({
      user_id: MULTI_USER,
      email: 'multi@example.com',
      created_at: now,
      updated_at: now,
      last_login: now,
      identities: MULTI_CONNECTIONS.map((connection) => {
        oauth2.addAccount({ id: `${connection}-account`, profile: { connection } });
        const tokens = oauth2.issueTokens(`${connection}-account`);
        return {
          provider: 'oauth2',
          connection,
          user_id: `${connection}|${connection}-account`,
          isSocial: false,
          access_token: tokens.access_token,
          expires_in: 3600,
        };
      }),
    });
  });

  it('fails the calls past MAX_UPSTREAM_CALLS one field at a time, and the rest of the response arrives', async () => {
    const connections = Object.fromEntries(MULTI_CONNECTIONS.map((name) => [name, { apiUrl: `${h.sandbox.oauth2.origin}/api` }]));
    const tight = await h.startGateway({ MAX_UPSTREAM_CALLS: '2', OAUTH2_CONNECTIONS: JSON.stringify(connections) });
    const token = await h.token(MULTI_USER);
    const before = upstreamCalls();
    const answer = await postGraphQL<{ me: { email: string; identities: { connection: string; request: unknown }[] } }>(
      tight.url,
      token,
      '{ me { email identities { connection ... on OAuth2Identity { request(path: "/me") } } } }',
    );
    expect(answer.status).toBe(200);
    expect(answer.data?.me.email).toBe('multi@example.com');
    const answered = answer.data?.me.identities.filter((identity) => identity.request !== null) ?? [];
    expect(answered).toHaveLength(2);
    expect(answer.errors).toEqual([
      expect.objectContaining({ path: ['me', 'identities', expect.any(Number), 'request'], extensions: { code: 'QUERY_TOO_EXPENSIVE', cost: 3, limit: 2 } }),
    ]);
    expect(upstreamCalls().oauth2 - before.oauth2).toBe(2);
  });
});
