import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { GitHubRepository } from '../sandbox/github.js';
import { SEED_ACCOUNTS, SEED_USERS } from '../sandbox/index.js';
import { errorCodes, rawUser, startHarness, type GraphQLAnswer, type Harness } from './helpers/harness.js';

// GitHub's profile and repositories as typed fields over its GraphQL API: everything one request
// selects under one GitHub identity travels as ONE upstream document (counted at the fake), pages
// follow GitHub's own cursors, and each of GitHub's failures lands on the GitHub fields only, with
// partial data answering what it can.

type Connection<T> = { edges: { cursor: string; node: T }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
type Repository = { id: string; nameWithOwner: string; description: string | null; isPrivate: boolean; url: string; updatedAt: string; stargazerCount: number };

const GRACE_ID = String(SEED_ACCOUNTS.grace.github);
const REPOSITORY_FIELDS = 'id nameWithOwner description isPrivate url updatedAt stargazerCount';

let h: Harness;
let grace: string;

beforeAll(async () => {
  h = await startHarness({ env: { UPSTREAM_TIMEOUT_MS: '300' } });
  grace = await h.token(SEED_USERS.grace);
});
afterAll(async () => h?.close());
beforeEach(() => h.sandbox.clearFaults());

/** Runs a selection under `me { github { … } }` as `caller`, with the given variable declarations. */
function github<T>(caller: string, selection: string, variables?: Record<string, unknown>, declarations = '') {
  return h.query<{ me: { id: string; github: T } }>(caller, `query ${declarations} { me { id github { ${selection} } } }`, variables);
}

/** Grace's repositories as GitHub orders them for `orderBy: {field: UPDATED_AT, direction: DESC}`. */
function byUpdateDescending(): GitHubRepository[] {
  return [...h.sandbox.github.account(GRACE_ID)!.repositories].sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
}

function graphqlCalls(): number {
  return h.sandbox.github.count('graphql');
}

/** A GitHub user of its own (with a `gho_` token unless told otherwise), so a test may break it without touching Grace. */
function addGitHubUser(id: number, login: string, tokens?: { access_token: string; refresh_token?: string; expires_in?: number }) {
  h.sandbox.github.addAccount({ id: String(id), login, name: login, email: '', repositories: [] });
  const issued = tokens ?? h.sandbox.github.issueOAuthAppToken(String(id));
  h.sandbox.tenant.addUser(rawUser(`github|${id}`, { user_id: id, ...issued }));
  return issued;
}

describe('profile and repositories', () => {
  it('answers the profile and the first page, most recently updated first, with the token state UNKNOWN (gho_ tokens never expire)', async () => {
    const answer = await github<{
      provider: string;
      userId: string;
      token: { state: string; expiresAt: string | null };
      profile: unknown;
      repositories: Connection<Repository>;
    }>(
      grace,
      `provider userId token { state expiresAt } profile { login name email avatarUrl url } repositories(first: 3) { edges { node { ${REPOSITORY_FIELDS} } } pageInfo { hasNextPage } }`,
    );
    expect(answer.errors).toBeUndefined();
    const { provider, userId, token, profile, repositories } = answer.data!.me.github;
    expect({ provider, userId, token }).toEqual({ provider: 'github', userId: GRACE_ID, token: { state: 'UNKNOWN', expiresAt: null } });
    expect(profile).toEqual({
      login: 'ghopper',
      name: 'Grace Hopper',
      email: 'grace@example.com',
      avatarUrl: 'https://avatars.githubusercontent.com/u/1234567?v=4',
      url: 'https://github.com/ghopper',
    });
    const expected = byUpdateDescending().slice(0, 3);
    expect(repositories.edges.map((edge) => edge.node)).toEqual(
      expected.map(({ id, nameWithOwner, description, isPrivate, url, updatedAt, stargazerCount }) => ({
        id,
        nameWithOwner,
        description,
        isPrivate,
        url,
        updatedAt: new Date(updatedAt).toISOString(),
        stargazerCount,
      })),
    );
    expect(repositories.pageInfo.hasNextPage).toBe(true);
  });

  it('gives null for a private email (GitHub answers an empty string)', async () => {
    addGitHubUser(5550001, 'private-mail');
    const answer = await github<{ profile: { login: string; email: string | null } }>(await h.token('github|5550001'), 'profile { login email }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.github.profile).toEqual({ login: 'private-mail', email: null });
  });

  it('sends profile + repositories + a second aliased page as ONE upstream document, cursors and sizes as variables', async () => {
    const first = await github<{ repositories: Connection<unknown> }>(grace, 'repositories(first: 5) { pageInfo { endCursor } }');
    const cursor = first.data!.me.github.repositories.pageInfo.endCursor;
    const before = graphqlCalls();
    const documents = h.sandbox.github.documents.length;
    const answer = await github<{ profile: { login: string }; a: Connection<{ nameWithOwner: string }>; b: Connection<{ nameWithOwner: string }> }>(
      grace,
      'profile { login } a: repositories(first: 5) { edges { node { nameWithOwner } } } b: repositories(first: 5, after: $after) { edges { node { nameWithOwner } } }',
      { after: cursor },
      '($after: String)',
    );
    expect(answer.errors).toBeUndefined();
    expect(graphqlCalls() - before).toBe(1);
    const names = byUpdateDescending().map((repository) => repository.nameWithOwner);
    expect(answer.data!.me.github.profile.login).toBe('ghopper');
    expect(answer.data!.me.github.a.edges.map((edge) => edge.node.nameWithOwner)).toEqual(names.slice(0, 5));
    expect(answer.data!.me.github.b.edges.map((edge) => edge.node.nameWithOwner)).toEqual(names.slice(5, 10));
    const sent = h.sandbox.github.documents.slice(documents);
    expect(sent).toHaveLength(1);
    // GitHub's own cursor travels as a variable, never in the document's text.
    const githubCursor = Object.values(sent[0]!.variables).find((value) => typeof value === 'string');
    expect(githubCursor).toBeDefined();
    expect(sent[0]!.query).not.toContain(String(githubCursor));
    expect(Object.values(sent[0]!.variables).sort()).toEqual([5, 5, githubCursor, null].sort());
    expect(sent[0]!.query).toMatch(/^query GatewayViewer\(.*\) \{ viewer \{ login name email avatarUrl url r0: repositories\(/);
    expect(sent[0]!.query).toContain('orderBy: {field: UPDATED_AT, direction: DESC}');
  });

  it('asks one document when the same identity is reached through `identities` and `github` in one request', async () => {
    const before = graphqlCalls();
    const answer = await h.query<{ me: { identities: { profile?: { login: string } }[]; github: { repositories: Connection<unknown> } } }>(
      grace,
      '{ me { identities { ... on GitHubIdentity { profile { login } } } github { repositories(first: 2) { edges { node { id } } } } } }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.identities[0]).toEqual({ profile: { login: 'ghopper' } });
    expect(answer.data?.me.github.repositories.edges).toHaveLength(2);
    expect(graphqlCalls() - before).toBe(1);
  });

  it('sends one document per identity, each with its own token: two users in one request never see each other', async () => {
    addGitHubUser(5550004, 'second-user');
    const partner = await h.token('partner@clients', 'read:users');
    const before = graphqlCalls();
    const answer = await h.query<{ users: { github: { profile: { login: string } } }[] }>(
      partner,
      'query ($ids: [ID!]!) { users(ids: $ids) { github { profile { login } } } }',
      { ids: [SEED_USERS.grace, 'github|5550004'] },
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.users.map((user) => user.github.profile.login)).toEqual(['ghopper', 'second-user']);
    expect(graphqlCalls() - before).toBe(2);
  });

  it('pages to the end with GitHub cursors, in update order, without duplicates', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (; pages < 10; pages++) {
      const answer: GraphQLAnswer<{ me: { github: { repositories: Connection<{ nameWithOwner: string }> } } }> = await github(
        grace,
        'repositories(first: 5, after: $after) { edges { node { nameWithOwner } } pageInfo { hasNextPage endCursor } }',
        { after },
        '($after: String)',
      );
      expect(answer.errors).toBeUndefined();
      const connection = answer.data!.me.github.repositories;
      seen.push(...connection.edges.map((edge) => edge.node.nameWithOwner));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(pages + 1).toBe(3);
    expect(seen).toEqual(byUpdateDescending().map((repository) => repository.nameWithOwner));
    expect(seen).toHaveLength(12);
  });

  it('resumes after a cursor in the middle of a page', async () => {
    const page = await github<{ repositories: Connection<{ nameWithOwner: string }> }>(
      grace,
      'repositories(first: 6) { edges { cursor node { nameWithOwner } } }',
    );
    const edges = page.data!.me.github.repositories.edges;
    const resumed = await github<{ repositories: Connection<{ nameWithOwner: string }> }>(
      grace,
      'repositories(first: 2, after: $after) { edges { node { nameWithOwner } } }',
      { after: edges[2]!.cursor },
      '($after: String)',
    );
    expect(resumed.data!.me.github.repositories.edges.map((edge) => edge.node.nameWithOwner)).toEqual([
      edges[3]!.node.nameWithOwner,
      edges[4]!.node.nameWithOwner,
    ]);
  });

  it('caps first at 100 and refuses a negative first or a forged cursor before calling GitHub', async () => {
    await github(grace, 'repositories(first: 5000) { edges { node { id } } }');
    expect(Object.values(h.sandbox.github.documents.at(-1)!.variables)).toContain(100);
    const before = graphqlCalls();
    expect(errorCodes(await github(grace, 'repositories(first: -1) { edges { node { id } } }'))).toEqual(['BAD_USER_INPUT']);
    const forged = Buffer.from(JSON.stringify({ f: 'github.repositories', t: '") { x } #', o: 0 })).toString('base64url');
    const answer = await github(grace, 'repositories(after: $after) { edges { node { id } } }', { after: forged }, '($after: String)');
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(answer.data?.me.github).toEqual({ repositories: null });
    expect(graphqlCalls()).toBe(before);
  });

  it('gives null for a user without a GitHub identity', async () => {
    const answer = await h.query<{ me: { github: unknown } }>(await h.token(SEED_USERS.alan), '{ me { github { profile { login } } } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.github).toBeNull();
  });
});

describe("GitHub's failures stay in the GitHub fields", () => {
  const BOTH = 'profile { login } repositories(first: 2) { edges { node { id } } }';

  it('partial data: a page with a SAML-protected repository fails alone; the profile and the other page resolve, from one document', async () => {
    const protectedOne = byUpdateDescending()[7]!;
    protectedOne.samlProtected = true;
    try {
      const before = graphqlCalls();
      const answer = await github<{ profile: { login: string }; a: Connection<{ nameWithOwner: string }>; b: Connection<unknown> | null }>(
        grace,
        'profile { login } a: repositories(first: 5) { edges { node { nameWithOwner } } } b: repositories(first: 10) { edges { node { nameWithOwner } } }',
      );
      expect(graphqlCalls() - before).toBe(1);
      expect(answer.data?.me.github.profile.login).toBe('ghopper');
      expect(answer.data?.me.github.a.edges).toHaveLength(5);
      expect(answer.data?.me.github.b).toBeNull();
      expect(answer.errors?.map((error) => [error.extensions?.code, error.extensions?.provider, error.path])).toEqual([
        ['UPSTREAM_UNAVAILABLE', 'github', ['me', 'github', 'b']],
      ]);
      expect(answer.errors?.[0]?.message).toMatch(/FORBIDDEN.*SAML/);
    } finally {
      protectedOne.samlProtected = false;
    }
  });

  it('RATE_LIMITED with HTTP 200 when the points run out: PROVIDER_RATE_LIMITED waiting until x-ratelimit-reset', async () => {
    const window = h.sandbox.github.rateWindow(GRACE_ID);
    const used = window.used;
    window.used = window.limit;
    try {
      const google = await h.token(SEED_USERS.grace);
      const answer = await h.query<{ me: { id: string; github: { profile: unknown; repositories: unknown } } }>(google, `{ me { id github { ${BOTH} } } }`);
      expect(answer.data?.me).toEqual({ id: SEED_USERS.grace, github: { profile: null, repositories: null } });
      expect(errorCodes(answer)).toEqual(['PROVIDER_RATE_LIMITED', 'PROVIDER_RATE_LIMITED']);
      const retryAfter = answer.errors![0]!.extensions!.retryAfter as number;
      const expected = window.resetAt - Math.floor(Date.now() / 1000);
      expect(retryAfter).toBeGreaterThanOrEqual(expected - 2);
      expect(retryAfter).toBeLessThanOrEqual(expected + 2);
      expect(answer.errors![0]!.extensions!.provider).toBe('github');
    } finally {
      window.used = used;
    }
  });

  it('403 with x-ratelimit-remaining: 0 is PROVIDER_RATE_LIMITED until the reset', async () => {
    const reset = Math.floor(Date.now() / 1000) + 1200;
    h.sandbox.github.injectFault('graphql', {
      status: 403,
      headers: { 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset), 'x-ratelimit-resource': 'graphql' },
      body: { errors: [{ type: 'RATE_LIMITED', message: 'API rate limit exceeded for user ID 1234567.' }] },
    });
    const answer = await github(grace, 'profile { login }');
    expect(errorCodes(answer)).toEqual(['PROVIDER_RATE_LIMITED']);
    expect(answer.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(1195);
    expect(answer.errors![0]!.extensions!.retryAfter).toBeLessThanOrEqual(1200);
  });

  it('a secondary limit (403 with retry-after) is retried when the wait fits the budget, else PROVIDER_RATE_LIMITED with that wait', async () => {
    const body = {
      message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
      documentation_url: 'https://docs.github.com/graphql',
    };
    h.sandbox.github.injectFault('graphql', { status: 403, headers: { 'retry-after': '90' }, body });
    const before = graphqlCalls();
    const answer = await github(grace, BOTH);
    expect(graphqlCalls() - before).toBe(1);
    expect(answer.errors?.map((error) => error.extensions)).toEqual([
      { code: 'PROVIDER_RATE_LIMITED', provider: 'github', retryAfter: 90 },
      { code: 'PROVIDER_RATE_LIMITED', provider: 'github', retryAfter: 90 },
    ]);
    h.sandbox.github.injectFault('graphql', { status: 403, headers: { 'retry-after': '0' }, body });
    const retried = await github<{ profile: { login: string } }>(grace, 'profile { login }');
    expect(graphqlCalls() - before).toBe(3);
    expect(retried.errors).toBeUndefined();
    expect(retried.data?.me.github.profile.login).toBe('ghopper');
  });

  it('a 429 is retried by the client within its bound, then PROVIDER_RATE_LIMITED', async () => {
    const body = { message: 'You have exceeded a secondary rate limit.' };
    h.sandbox.github.injectFault('graphql', { status: 429, headers: { 'retry-after': '0' }, body, times: 3 });
    const before = graphqlCalls();
    const answer = await github(grace, 'profile { login }');
    expect(graphqlCalls() - before).toBe(3);
    expect(errorCodes(answer)).toEqual(['PROVIDER_RATE_LIMITED']);
    // Once it passes within the retries, the answer arrives.
    h.sandbox.github.injectFault('graphql', { status: 429, headers: { 'retry-after': '0' }, body });
    const recovered = await github<{ profile: { login: string } }>(grace, 'profile { login }');
    expect(recovered.errors).toBeUndefined();
    expect(recovered.data?.me.github.profile.login).toBe('ghopper');
  });

  it('5xx: UPSTREAM_UNAVAILABLE on the GitHub fields only; the rest of the response arrives', async () => {
    h.sandbox.github.injectFault('graphql', { status: 502, body: '<html><body>Bad Gateway</body></html>', times: 3 });
    const answer = await h.query<{ me: { id: string; google: { profile: { email: string } }; github: { profile: unknown; repositories: unknown } } }>(
      grace,
      `{ me { id google { profile { email } } github { ${BOTH} } } }`,
    );
    expect(answer.data?.me).toEqual({
      id: SEED_USERS.grace,
      google: { profile: { email: 'grace@example.com' } },
      github: { profile: null, repositories: null },
    });
    expect(answer.errors?.map((error) => [error.extensions?.code, error.extensions?.provider, error.path?.join('.')])).toEqual([
      ['UPSTREAM_UNAVAILABLE', 'github', 'me.github.profile'],
      ['UPSTREAM_UNAVAILABLE', 'github', 'me.github.repositories'],
    ]);
  });

  it('a 200 that is no GraphQL answer (a proxy page) is UPSTREAM_UNAVAILABLE, without quoting it', async () => {
    h.sandbox.github.injectFault('graphql', {
      status: 200,
      headers: { 'content-type': 'text/html' },
      body: '<html><body>Sign in to the corporate proxy</body></html>',
    });
    const answer = await github(grace, 'profile { login }');
    expect(errorCodes(answer)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(answer.errors![0]!.message).toBe('github is unavailable: the answer was not a GraphQL result');
  });

  it('a hang: UPSTREAM_UNAVAILABLE (timed out) on the GitHub fields only', async () => {
    h.sandbox.github.injectFault('graphql', { hang: true, times: 3 });
    const answer = await h.query<{ me: { id: string; github: { profile: unknown } } }>(grace, '{ me { id github { profile { login } } } }');
    expect(answer.data?.me).toEqual({ id: SEED_USERS.grace, github: { profile: null } });
    expect(errorCodes(answer)).toEqual(['UPSTREAM_UNAVAILABLE']);
  });

  it('a 401 "Bad credentials" on a gho_ token is REAUTHENTICATION_REQUIRED at once, naming the connection; nothing is renewed', async () => {
    addGitHubUser(5550002, 'revoked-app');
    h.sandbox.github.revokeAccessTokens('5550002');
    const caller = await h.token('github|5550002');
    const grants = h.sandbox.github.count('token');
    const answer = await h.query<{ me: { id: string; github: { profile: unknown; token: { state: string } } } }>(
      caller,
      '{ me { id github { profile { login } } } }',
    );
    expect(answer.data?.me).toEqual({ id: 'github|5550002', github: { profile: null } });
    expect(answer.errors?.map((error) => error.extensions)).toEqual([
      expect.objectContaining({ code: 'REAUTHENTICATION_REQUIRED', provider: 'github', connection: 'github' }),
    ]);
    expect(h.sandbox.github.count('token')).toBe(grants);
    const status = await h.query<{ me: { github: { token: { state: string } } } }>(caller, '{ me { github { token { state } } } }');
    expect(status.data?.me.github.token.state).toBe('REAUTHENTICATION_REQUIRED');
  });
});

describe('the fake answers like GitHub', () => {
  it("refuses an invalid document with GitHub's error shape, and a bad token with 401 Bad credentials", async () => {
    const token = h.sandbox.users!.tokens.grace.github.access_token;
    const post = (authorization: string, query: string) =>
      fetch(`${h.sandbox.github.origin}/graphql`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
    const invalid = await post(`Bearer ${token}`, '{ viewer { login nope } }');
    expect(invalid.status).toBe(200);
    expect(invalid.headers.get('x-ratelimit-resource')).toBe('graphql');
    expect(await invalid.json()).toEqual({
      errors: [
        {
          path: ['query'],
          extensions: { code: 'undefinedField', typeName: 'User', fieldName: 'nope' },
          locations: [{ line: 1, column: 18 }],
          message: "Field 'nope' doesn't exist on type 'User'",
        },
      ],
    });
    const refused = await post('Bearer gho_notatoken', '{ viewer { login } }');
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ message: 'Bad credentials', documentation_url: 'https://docs.github.com/graphql' });
  });
});

describe('secrets', () => {
  it('no gho_/ghu_/ghr_ value or GitHub client secret in any log line, Redis value or URL; the token only in the Authorization header', async () => {
    // A renewal happens too: a GitHub-App user whose 8-hour token expired an hour ago.
    h.sandbox.github.addAccount({ id: '5550003', login: 'app-user', name: 'App User', email: '', repositories: [] });
    const issued = h.sandbox.github.issueTokens('5550003', { expiresIn: -3600 });
    const nineHoursAgo = new Date(Date.now() - 9 * 3600_000).toISOString();
    const user = rawUser('github|5550003', { user_id: 5550003, access_token: issued.access_token, refresh_token: issued.refresh_token, expires_in: 28_800 });
    h.sandbox.tenant.addUser({ ...user, updated_at: nineHoursAgo, last_login: nineHoursAgo });
    const renewed = await github<{ profile: { login: string } }>(await h.token('github|5550003'), 'profile { login }');
    expect(renewed.errors).toBeUndefined();
    expect(h.sandbox.github.count('token')).toBeGreaterThanOrEqual(1);

    const secrets = [...h.sandbox.github.issuedTokens(), h.sandbox.github.clientSecret];
    expect(secrets.some((secret) => secret.startsWith('gho_'))).toBe(true);
    expect(secrets.some((secret) => secret.startsWith('ghu_'))).toBe(true);
    expect(secrets.some((secret) => secret.startsWith('ghr_'))).toBe(true);
    const logs = h.main.logs.join('\n');
    expect(logs).toContain('token_refreshed');
    const client = new Redis(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    const values: string[] = [];
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${h.env.REDIS_KEY_PREFIX}*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) if ((await client.type(key)) === 'string') values.push(`${key} ${await client.get(key)}`);
      } while (cursor !== '0');
    } finally {
      client.disconnect();
    }
    expect(values.some((value) => value.includes('token'))).toBe(true);
    const redis = values.join('\n');
    const urls = h.sandbox.github.requests.map((request) => request.url).join('\n');
    const documents = JSON.stringify(h.sandbox.github.documents);
    for (const secret of secrets) {
      expect(logs.includes(secret), 'a log line holds a GitHub secret').toBe(false);
      expect(redis.includes(secret), 'a Redis value holds a GitHub secret').toBe(false);
      expect(urls.includes(secret) || documents.includes(secret), 'a URL or document holds a GitHub secret').toBe(false);
    }
    expect(logs).not.toMatch(/gh[our]_[A-Za-z0-9]{20}/);
  });
});
