import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SEED_ACCOUNTS, SEED_USERS } from '../sandbox/index.js';
import { errorCodes, startHarness, type GraphQLAnswer, type Harness } from './helpers/harness.js';

// Bitbucket's account, workspaces and repositories as typed fields, paginated over
// Bitbucket's numbered pages, deduplicated per request, and failing alone with a precise code.

type Connection<T> = { edges: { cursor: string; node: T }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };

let h: Harness;
let ada: string;
let alan: string;

beforeAll(async () => {
  h = await startHarness({ env: { UPSTREAM_TIMEOUT_MS: '300' } });
  ada = await h.token(SEED_USERS.ada);
  alan = await h.token(SEED_USERS.alan);
  // The fake invents a random avatar unless the account names one; fix them so values compare exactly.
  account('ada').avatarUrl = 'https://secure.gravatar.com/avatar/ada?d=mm';
  account('alan').avatarUrl = 'https://secure.gravatar.com/avatar/alan?d=mm';
});
afterAll(async () => h?.close());
beforeEach(() => h.sandbox.clearFaults());

const VARIABLE_TYPES: Record<string, string> = { first: 'Int', after: 'String', workspace: 'String!' };

/** Runs a selection under `me { bitbucket { … } }` as `caller`, declaring only the variables it uses. */
async function bitbucket<T>(caller: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLAnswer<{ me: { bitbucket: T } }>> {
  const used = Object.keys(VARIABLE_TYPES).filter((name) => query.includes(`$${name}`));
  const declaration = used.length > 0 ? `(${used.map((name) => `$${name}: ${VARIABLE_TYPES[name]}`).join(', ')})` : '';
  return h.query<{ me: { bitbucket: T } }>(caller, `query ${declaration} { me { bitbucket { ${query} } } }`, variables);
}

function account(who: 'ada' | 'alan') {
  return h.sandbox.bitbucket.account(SEED_ACCOUNTS[who].bitbucket)!;
}

/** Follows Ada's `workspaces` (no workspace given) or `repositories(workspace:)` from `after` to the end, `first` at a time. */
async function pageToEnd<T>(workspace: string | undefined, first: number, after: string | null = null): Promise<{ nodes: T[]; pages: number }> {
  const field = workspace === undefined ? 'workspaces' : 'repositories';
  const selection =
    workspace === undefined
      ? 'workspaces(first: $first, after: $after) { edges { node { uuid slug name } } pageInfo { hasNextPage endCursor } }'
      : 'repositories(workspace: $workspace, first: $first, after: $after) { edges { node { uuid fullName name isPrivate updatedOn htmlUrl } } pageInfo { hasNextPage endCursor } }';
  const nodes: T[] = [];
  for (let pages = 1; pages <= 20; pages++) {
    const answer: GraphQLAnswer<{ me: { bitbucket: Record<string, Connection<T>> } }> = await bitbucket(ada, selection, { workspace, first, after });
    expect(answer.errors).toBeUndefined();
    const connection = answer.data!.me.bitbucket[field]!;
    nodes.push(...connection.edges.map((edge) => edge.node));
    if (!connection.pageInfo.hasNextPage) return { nodes, pages };
    after = connection.pageInfo.endCursor;
  }
  throw new Error(`${field} did not end within 20 pages`);
}

/** Ada's repositories in her first workspace as the fake orders them for `sort=-updated_on`. */
function expectedRepositories(): string[] {
  const slug = account('ada').workspaces[0]!.slug;
  return [...account('ada').repositories[slug]!].sort((a, b) => b.updated_on.localeCompare(a.updated_on)).map((r) => r.full_name);
}

describe('account', () => {
  it('returns the account of the linked identity, for Alan (Bitbucket only) and for Ada', async () => {
    const selection = 'account { uuid accountId displayName nickname avatarUrl }';
    const [forAlan, forAda] = await Promise.all([bitbucket(alan, selection), bitbucket(ada, selection)]);
    expect(forAlan.errors).toBeUndefined();
    expect(forAlan.data?.me.bitbucket).toEqual({
      account: {
        uuid: '{a1b2c3d4-0000-0000-0000-000000000000}',
        accountId: '557058:a1b2c3d4-0000-4000-8000-000000000001',
        displayName: 'Alan Turing',
        nickname: 'alan',
        avatarUrl: 'https://secure.gravatar.com/avatar/alan?d=mm',
      },
    });
    expect(forAda.errors).toBeUndefined();
    expect(forAda.data?.me.bitbucket).toEqual({
      account: {
        uuid: '{e4a4ef88-1b26-4a49-a4c6-6a5e5b6d9c5e}',
        accountId: '557058:c0b72ad0-1cb5-4018-9cdc-0cde8492c443',
        displayName: 'Ada Lovelace',
        nickname: 'ada',
        avatarUrl: 'https://secure.gravatar.com/avatar/ada?d=mm',
      },
    });
  });

  it('sends GET /user once per request, however often the query asks for it', async () => {
    const before = h.sandbox.bitbucket.count('user');
    const answer = await bitbucket<{ a: { uuid: string }; b: { nickname: string } }>(ada, 'a: account { uuid } b: account { nickname }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.bitbucket).toEqual({ a: { uuid: SEED_ACCOUNTS.ada.bitbucket }, b: { nickname: 'ada' } });
    expect(h.sandbox.bitbucket.count('user') - before).toBe(1);
  });
});

describe('workspaces', () => {
  it('pages one workspace at a time to the end from /user/workspaces, never the withdrawn /workspaces', async () => {
    const before = h.sandbox.bitbucket.count('userWorkspaces');
    const { nodes, pages } = await pageToEnd<{ uuid: string; slug: string; name: string }>(undefined, 1);
    expect(nodes).toEqual(account('ada').workspaces.map(({ uuid, slug, name }) => ({ uuid, slug, name })));
    expect(pages).toBe(2);
    expect(h.sandbox.bitbucket.count('userWorkspaces') - before).toBe(2);
    expect(h.sandbox.bitbucket.count('workspacesGone')).toBe(0);
  });
});

describe('repositories', () => {
  it('pages a workspace to the end, most recently updated first, without duplicates', async () => {
    const workspace = account('ada').workspaces[0]!.slug;
    const first = h.sandbox.bitbucket.requests.length;
    const { nodes, pages } = await pageToEnd<{ fullName: string; uuid: string; isPrivate: boolean; updatedOn: string; htmlUrl: string }>(workspace, 5);
    const expected = expectedRepositories();
    expect(expected).toHaveLength(12);
    expect(nodes.map((node) => node.fullName)).toEqual(expected);
    expect(new Set(nodes.map((node) => node.uuid)).size).toBe(nodes.length);
    expect(pages).toBe(3);
    const stored = account('ada').repositories[workspace]!.find((r) => r.full_name === nodes[0]!.fullName)!;
    expect(nodes[0]).toMatchObject({ isPrivate: stored.is_private, htmlUrl: stored.links.html.href, updatedOn: new Date(stored.updated_on).toISOString() });
    const urls = h.sandbox.bitbucket.requests.slice(first).map((request) => request.url);
    expect(urls).toEqual([1, 2, 3].map((page) => `/2.0/repositories/${workspace}?role=member&sort=-updated_on&pagelen=5&page=${page}`));
  }, 10_000);

  it('resumes after a cursor in the middle of a page, to the end', async () => {
    const expected = expectedRepositories();
    const workspace = account('ada').workspaces[0]!.slug;
    const firstPage = await bitbucket<{ repositories: Connection<{ fullName: string }> }>(
      ada,
      'repositories(workspace: $workspace, first: 5) { edges { cursor node { fullName } } pageInfo { endCursor } }',
      { workspace },
    );
    const edges = firstPage.data!.me.bitbucket.repositories.edges;
    const fromFirstPage = await pageToEnd<{ fullName: string }>(workspace, 5, edges[2]!.cursor);
    expect(fromFirstPage.nodes.map((node) => node.fullName)).toEqual(expected.slice(3));
    // And from the middle of Bitbucket's page 2 (cursors there carry its page number and pagelen 5;
    // resuming with another `first` must still read that page in fives).
    const secondPage = await bitbucket<{ repositories: Connection<{ fullName: string }> }>(
      ada,
      'repositories(workspace: $workspace, first: 5, after: $after) { edges { cursor node { fullName } } }',
      { workspace, after: firstPage.data!.me.bitbucket.repositories.pageInfo.endCursor },
    );
    const middle = secondPage.data!.me.bitbucket.repositories.edges[1]!;
    expect(middle.node.fullName).toBe(expected[6]);
    const resumedAt = h.sandbox.bitbucket.requests.length;
    const fromSecondPage = await pageToEnd<{ fullName: string }>(workspace, 4, middle.cursor);
    expect(fromSecondPage.nodes.map((node) => node.fullName)).toEqual(expected.slice(7));
    expect(h.sandbox.bitbucket.requests[resumedAt]?.url).toMatch(/pagelen=5&page=2$/);
  }, 10_000);

  it('accepts a workspace UUID in braces, encoded as one path segment', async () => {
    const workspace = account('alan').workspaces[0]!;
    const answer = await bitbucket<{ repositories: Connection<{ fullName: string }> }>(
      alan,
      'repositories(workspace: $workspace, first: 100) { edges { node { fullName } } pageInfo { hasNextPage } }',
      { workspace: workspace.uuid },
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.bitbucket.repositories.edges).toHaveLength(4);
    expect(answer.data?.me.bitbucket.repositories.pageInfo.hasNextPage).toBe(false);
    expect(h.sandbox.bitbucket.requests.at(-1)?.url).toContain(`/2.0/repositories/${encodeURIComponent(workspace.uuid)}?`);
  });

  it('gives null for a workspace the user cannot see (Bitbucket answers 404)', async () => {
    const answer = await bitbucket(ada, 'repositories(workspace: "turing-lab") { edges { node { name } } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.bitbucket).toEqual({ repositories: null });
  });

  it('refuses a workspace that is not a slug or braced UUID, and a forged cursor, before calling Bitbucket', async () => {
    const before = h.sandbox.bitbucket.count('repositories');
    for (const workspace of ['../x', 'a/b', '', '.hidden', 'a?b=1', '{not-a-uuid}', 'x'.repeat(101)]) {
      const answer = await bitbucket(ada, 'repositories(workspace: $workspace) { edges { node { name } } }', { workspace });
      expect(errorCodes(answer), workspace).toEqual(['BAD_USER_INPUT']);
      expect(answer.data?.me.bitbucket).toEqual({ repositories: null });
    }
    const forged = Buffer.from(JSON.stringify({ f: 'bitbucket.repositories', t: '1:1000', o: 0 })).toString('base64url');
    const answer = await bitbucket(ada, 'repositories(workspace: "ada-lovelace", after: $after) { edges { node { name } } }', { after: forged });
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(h.sandbox.bitbucket.count('repositories')).toBe(before);
  });
});

describe('failures stay in their field', () => {
  it('renews the token once after a 401 "Access token expired." and answers', async () => {
    h.sandbox.bitbucket.injectFault('user', { status: 401, body: { type: 'error', error: { message: 'Access token expired.' } } });
    const grants = h.sandbox.bitbucket.count('token');
    const answer = await bitbucket<{ account: { uuid: string } }>(alan, 'account { uuid }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.bitbucket.account.uuid).toBe(SEED_ACCOUNTS.alan.bitbucket);
    expect(h.sandbox.bitbucket.count('token') - grants).toBe(1);
  });

  it('gives UPSTREAM_UNAVAILABLE for a hang on that field only; the rest of the query arrives', async () => {
    h.sandbox.bitbucket.injectFault('user', { hang: true, times: 3 });
    const answer = await h.query<{ me: { id: string; bitbucket: { account: unknown; workspaces: Connection<unknown> } } }>(
      ada,
      '{ me { id bitbucket { account { uuid } workspaces { edges { node { slug } } } } } }',
    );
    expect(answer.data?.me.id).toBe(SEED_USERS.ada);
    expect(answer.data?.me.bitbucket.account).toBeNull();
    expect(answer.data?.me.bitbucket.workspaces.edges).toHaveLength(2);
    expect(answer.errors?.map((error) => [error.extensions?.code, error.extensions?.provider, error.path])).toEqual([
      ['UPSTREAM_UNAVAILABLE', 'bitbucket', ['me', 'bitbucket', 'account']],
    ]);
  });

  it('maps Bitbucket error envelopes: 429, 400, 403, 410 and 5xx', async () => {
    const bb = h.sandbox.bitbucket;
    bb.injectFault('user', {
      status: 429,
      headers: { 'Retry-After': '120' },
      body: { type: 'error', error: { message: 'Rate limit for this resource has been exceeded' } },
    });
    const calls = bb.count('user');
    const limited = await bitbucket(ada, 'account { uuid }');
    // A Retry-After beyond the wait budget is not retried: one call, reported at once.
    expect(bb.count('user') - calls).toBe(1);
    expect(limited.errors?.[0]?.extensions).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', provider: 'bitbucket', retryAfter: 120 });

    bb.injectFault('user', { status: 400, body: { type: 'error', error: { message: 'Invalid pagelen', detail: 'pagelen must be between 1 and 100' } } });
    const bad = await bitbucket(ada, 'account { uuid }');
    expect(errorCodes(bad)).toEqual(['BAD_USER_INPUT']);
    expect(bad.errors?.[0]?.message).toContain('Invalid pagelen');

    bb.injectFault('user', { status: 403, body: { type: 'error', error: { message: 'Access denied. You must have write or admin access.' } } });
    const hidden = await bitbucket(ada, 'account { uuid }');
    expect(hidden.errors).toBeUndefined();
    expect(hidden.data?.me.bitbucket).toEqual({ account: null });

    bb.injectFault('user', {
      status: 410,
      body: {
        type: 'error',
        error: {
          message: 'CHANGE-2770 - Functionality has been deprecated',
          data: { announcement_url: 'https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770' },
        },
      },
    });
    const gone = await bitbucket(ada, 'account { uuid }');
    expect(errorCodes(gone)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(gone.errors?.[0]?.message).toMatch(/withdrawn.*CHANGE-2770/);

    bb.injectFault('user', { status: 503, body: { type: 'error', error: { message: 'Service unavailable' } }, times: 3 });
    const down = await bitbucket(ada, 'account { uuid }');
    expect(errorCodes(down)).toEqual(['UPSTREAM_UNAVAILABLE']);
  });

  it('sends the token only in the Authorization header, never in a URL', async () => {
    const tokens = [h.sandbox.users!.tokens.ada.bitbucket, h.sandbox.users!.tokens.alan.bitbucket];
    expect(h.sandbox.bitbucket.requests.length).toBeGreaterThan(10);
    for (const request of h.sandbox.bitbucket.requests) {
      // The token endpoint's own path is /site/oauth2/access_token; no URL has an access_token parameter.
      if (request.route !== 'token') expect(request.url).not.toContain('access_token');
      expect(new URL(request.url, h.sandbox.bitbucket.origin).searchParams.has('access_token')).toBe(false);
      for (const issued of tokens) expect(request.url).not.toContain(issued.access_token);
    }
  });
});
