import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { DEMO_PARTNER_QUERY, DEMO_PARTNER_VARIABLES, DEMO_SCOPES } from '../sandbox/demo-options.js';
import { SEED_ACCOUNTS, SEED_USERS } from '../sandbox/index.js';
import { GRAPH_PERMISSIONS, graphError, throttled } from '../sandbox/microsoft.js';
import { errorCodes, rawUser, startHarness, type GraphQLAnswer, type Harness } from './helpers/harness.js';

// Microsoft Graph as typed fields of MicrosoftIdentity (Grace's linked acme-azure account):
// `$select`/`$top` as sent, paging over nextLink skip tokens rebuilt under MICROSOFT_GRAPH_URL,
// renew-once on 401, throttling, a missing delegated permission as PROVIDER_PERMISSION_DENIED, and
// every failure confined to its field. Counted on the fake.

type Connection<T> = { edges: { cursor: string; node: T }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
type Ms<T> = GraphQLAnswer<{ me: { microsoft: T } }>;

let h: Harness;
let grace: string;

beforeAll(async () => {
  // The breaker must not open on the 5xx this file provokes on purpose.
  h = await startHarness({ env: { UPSTREAM_BREAKER_FAILURES: '100' } });
  grace = await h.token(SEED_USERS.grace);
});
afterAll(async () => h?.close());
beforeEach(() => {
  h.sandbox.clearFaults();
  h.sandbox.microsoft.options.nextLinkBase = undefined;
});

const fake = () => h.sandbox.microsoft;
const account = () => fake().account(SEED_ACCOUNTS.grace.microsoft)!;
const graphRequests = (from: number) =>
  fake()
    .requests.slice(from)
    .filter((request) => request.route !== 'token');

/** Runs a selection under `me { microsoft { … } }` as `caller`. */
function microsoft<T>(caller: string, selection: string, variables?: Record<string, unknown>): Promise<Ms<T>> {
  const declared = ['first: Int', 'after: String'].filter((declaration) => selection.includes(`$${declaration.split(':')[0]}`));
  const header = declared.length > 0 ? `(${declared.map((d) => `$${d}`).join(', ')})` : '';
  return h.query(caller, `query ${header} { me { microsoft { ${selection} } } }`, variables);
}

/** Follows one listing of Grace's from the start to the end, `first` at a time. */
async function pageToEnd<T>(field: string, nodeSelection: string, first: number): Promise<{ nodes: T[]; pages: number }> {
  const nodes: T[] = [];
  let after: string | null = null;
  for (let pages = 1; pages <= 20; pages++) {
    const answer: Ms<Record<string, Connection<T>>> = await microsoft(
      grace,
      `${field}(first: $first, after: $after) { edges { node { ${nodeSelection} } } pageInfo { hasNextPage endCursor } }`,
      {
        first,
        after,
      },
    );
    expect(answer.errors).toBeUndefined();
    const connection = answer.data!.me.microsoft[field]!;
    nodes.push(...connection.edges.map((edge) => edge.node));
    if (!connection.pageInfo.hasNextPage) return { nodes, pages };
    after = connection.pageInfo.endCursor;
  }
  throw new Error(`${field} did not end within 20 pages`);
}

/**
 * A user with an acme-azure (or another connection's) identity holding `permissions`; with a
 * negative `expiresIn` its Auth0 record is three hours old, so the token is renewed before first use.
 */
function addMicrosoftUser(
  name: string,
  permissions: readonly string[],
  expiresIn = 3599,
  connection: { provider: string; name: string } = { provider: 'waad', name: 'acme-azure' },
): { userId: string; accountId: string } {
  const accountId = `00000000-0000-4000-8000-${name.padStart(12, '0').slice(-12)}`;
  fake().addAccount({
    id: accountId,
    displayName: name,
    mail: `${name}@acme.example`,
    userPrincipalName: `${name}@acme.onmicrosoft.com`,
    events: [],
    messages: [],
    driveItems: [],
  });
  const tokens = fake().issueTokens(accountId, { permissions, expiresIn });
  const userId = `${connection.provider}|${name}@acme.example`;
  const user = rawUser(userId, {
    provider: connection.provider,
    connection: connection.name,
    user_id: accountId,
    isSocial: false,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_in: 3599,
  });
  if (expiresIn < 0) {
    // Stored three hours ago with a one-hour token: the gateway renews it before the first call.
    const threeHoursAgo = new Date(Date.now() - 3 * 3600_000).toISOString();
    Object.assign(user, { created_at: threeHoursAgo, updated_at: threeHoursAgo, last_login: threeHoursAgo });
  }
  h.sandbox.tenant.addUser(user);
  return { userId, accountId };
}

describe('profile', () => {
  it('reads GET /me with $select of the exposed properties, once per request however often asked', async () => {
    const from = fake().requests.length;
    const answer = await microsoft<{ a: unknown; b: unknown }>(grace, 'a: profile { id displayName mail userPrincipalName } b: profile { mail }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.microsoft).toEqual({
      a: { id: SEED_ACCOUNTS.grace.microsoft, displayName: 'Grace Hopper', mail: 'grace@acme.example', userPrincipalName: 'grace@acme.onmicrosoft.com' },
      b: { mail: 'grace@acme.example' },
    });
    expect(graphRequests(from).map((request) => request.url)).toEqual(['/v1.0/me?$select=id%2CdisplayName%2Cmail%2CuserPrincipalName']);
  });

  it('is the first waad identity on User.microsoft and null for a user without one', async () => {
    const ada = await h.token(SEED_USERS.ada);
    const answer = await h.query<{ me: { microsoft: null } }>(ada, '{ me { microsoft { connection } } }');
    expect(answer).toMatchObject({ data: { me: { microsoft: null } } });
    const mine = await microsoft<{ provider: string; connection: string; userId: string }>(grace, 'provider connection userId');
    expect(mine.data?.me.microsoft).toEqual({ provider: 'waad', connection: 'acme-azure', userId: SEED_ACCOUNTS.grace.microsoft });
  });
});

describe('the demo', () => {
  it("shows Grace's Microsoft profile and newest messages in the partner tab, null for users without a Microsoft account", async () => {
    const partner = await h.token('demo-partner@clients', DEMO_SCOPES.partner);
    const answer = await h.query<{ users: ({ id: string; microsoft: { profile: { mail: string }; messages: Connection<{ from: string }> } | null } | null)[] }>(
      partner,
      DEMO_PARTNER_QUERY,
      DEMO_PARTNER_VARIABLES,
    );
    expect(answer.errors).toBeUndefined();
    const users = answer.data!.users;
    expect(users.map((user) => user?.id)).toEqual(DEMO_PARTNER_VARIABLES.ids.map((id) => (id === 'auth0|nobody' ? undefined : id)));
    const graces = users.find((user) => user?.id === SEED_USERS.grace)!.microsoft!;
    expect(graces.profile.mail).toBe('grace@acme.example');
    expect(graces.messages.edges).toHaveLength(3);
    expect(graces.messages.pageInfo.hasNextPage).toBe(true);
    expect(users.filter((user) => user && user.id !== SEED_USERS.grace).map((user) => user!.microsoft)).toEqual([null, null]);
  });
});

describe('personal Microsoft accounts (windowslive)', () => {
  it('are MicrosoftIdentity too, renewed at the consumers tenant', async () => {
    const connection = h.sandbox.tenant.connection('acme-azure')!;
    h.sandbox.tenant.addConnection({
      id: 'con_W1ndowsL1veSbx01',
      name: 'windowslive',
      strategy: 'windowslive',
      realms: ['windowslive'],
      options: { client_id: connection.options.client_id, client_secret: connection.options.client_secret, scope: ['User.Read', 'offline_access'] },
    });
    const { userId } = addMicrosoftUser('ada-personal', ['User.Read'], -60, { provider: 'windowslive', name: 'windowslive' });
    const from = fake().requests.length;
    const answer = await microsoft<{ __typename: string; connection: string; profile: { mail: string } }>(
      await h.token(userId),
      '__typename connection profile { mail }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.microsoft).toEqual({ __typename: 'MicrosoftIdentity', connection: 'windowslive', profile: { mail: 'ada-personal@acme.example' } });
    expect(
      fake()
        .requests.slice(from)
        .map((request) => request.url),
    ).toEqual(['/consumers/oauth2/v2.0/token', '/v1.0/me?$select=id%2CdisplayName%2Cmail%2CuserPrincipalName']);
  });
});

describe('events', () => {
  it('pages with $skip to the end, times in UTC as DateTimes, asking Graph for UTC', async () => {
    const from = fake().requests.length;
    const prefers = fake().preferHeaders.length;
    const { nodes, pages } = await pageToEnd<{ id: string; subject: string; start: string; end: string; webLink: string }>(
      'events',
      'id subject start end webLink',
      5,
    );
    const stored = account().events!;
    expect(nodes).toEqual(stored.map(({ id, subject, start, end, webLink }) => ({ id, subject, start, end, webLink })));
    expect(pages).toBe(3);
    expect(graphRequests(from).map((request) => request.url)).toEqual([
      '/v1.0/me/events?$select=id%2Csubject%2Cstart%2Cend%2CwebLink&$top=5',
      '/v1.0/me/events?$select=id%2Csubject%2Cstart%2Cend%2CwebLink&$top=5&$skip=5',
      '/v1.0/me/events?$select=id%2Csubject%2Cstart%2Cend%2CwebLink&$top=5&$skip=10',
    ]);
    expect(fake().preferHeaders.slice(prefers)).toEqual(Array(3).fill('outlook.timezone="UTC"'));
  });

  it('resumes after a cursor in the middle of a page', async () => {
    const first = await microsoft<{ events: Connection<{ id: string }> }>(grace, 'events(first: 4) { edges { cursor node { id } } }');
    const cursor = first.data!.me.microsoft.events.edges[1]!.cursor;
    const next = await microsoft<{ events: Connection<{ id: string }> }>(
      grace,
      'events(first: 3, after: $after) { edges { node { id } } pageInfo { hasNextPage } }',
      {
        after: cursor,
      },
    );
    expect(next.data!.me.microsoft.events.edges.map((edge) => edge.node.id)).toEqual(
      account()
        .events!.slice(2, 5)
        .map((event) => event.id),
    );
    expect(next.data!.me.microsoft.events.pageInfo.hasNextPage).toBe(true);
  });
});

describe('messages', () => {
  it('pages with the opaque $skiptoken to the end, newest first, `from` being the sender address', async () => {
    const from = fake().requests.length;
    const { nodes, pages } = await pageToEnd<{ id: string; subject: string; from: string; receivedDateTime: string; isRead: boolean }>(
      'messages',
      'id subject from receivedDateTime isRead',
      10,
    );
    const expected = [...account().messages!].sort((a, b) => b.receivedDateTime.localeCompare(a.receivedDateTime));
    expect(nodes).toEqual(
      expected.map((m) => ({
        id: m.id,
        subject: m.subject,
        from: m.from.emailAddress.address,
        receivedDateTime: new Date(m.receivedDateTime).toISOString(),
        isRead: m.isRead,
      })),
    );
    expect(pages).toBe(2);
    const urls = graphRequests(from).map((request) => request.url);
    expect(urls[0]).toBe('/v1.0/me/messages?$select=id%2Csubject%2Cfrom%2CreceivedDateTime%2CisRead&$top=10');
    expect(urls[1]).toMatch(/^\/v1\.0\/me\/messages\?\$select=id%2Csubject%2Cfrom%2CreceivedDateTime%2CisRead&\$top=10&\$skiptoken=[\w-]+$/);
    expect(urls).toHaveLength(2);
  });

  it('caps `first` at 100 in $top', async () => {
    const from = fake().requests.length;
    const answer = await microsoft<{ messages: Connection<{ id: string }> }>(grace, 'messages(first: 500) { edges { node { id } } pageInfo { hasNextPage } }');
    expect(answer.data?.me.microsoft.messages.edges).toHaveLength(15);
    expect(graphRequests(from).map((request) => request.url)).toEqual(['/v1.0/me/messages?$select=id%2Csubject%2Cfrom%2CreceivedDateTime%2CisRead&$top=100']);
  });
});

describe('driveItems', () => {
  it('pages the OneDrive root with $skiptoken, folders told from files', async () => {
    const { nodes, pages } = await pageToEnd<{ id: string; name: string; size: number; lastModifiedDateTime: string; webUrl: string; isFolder: boolean }>(
      'driveItems',
      'id name size lastModifiedDateTime webUrl isFolder',
      5,
    );
    expect(pages).toBe(3);
    expect(nodes).toEqual(
      account().driveItems!.map((item) => ({
        id: item.id,
        name: item.name,
        size: item.size,
        lastModifiedDateTime: new Date(item.lastModifiedDateTime).toISOString(),
        webUrl: item.webUrl,
        isFolder: Boolean(item.folder),
      })),
    );
    expect(nodes.filter((node) => node.isFolder).map((node) => node.name)).toEqual(['Documents', 'Pictures', 'Talks']);
  });

  it('refuses a cursor of another field before calling Graph', async () => {
    const events = await microsoft<{ events: Connection<unknown> }>(grace, 'events(first: 2) { pageInfo { endCursor } }');
    const from = fake().requests.length;
    const answer = await microsoft(grace, 'driveItems(after: $after) { edges { node { id } } }', {
      after: events.data!.me.microsoft.events.pageInfo.endCursor,
    });
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(fake().requests.length).toBe(from);
  });
});

describe('a nextLink outside MICROSOFT_GRAPH_URL', () => {
  it('ends the listing, reaches no other host and is logged once without its query', async () => {
    for (const base of [`${h.sandbox.google.origin}/v1.0`, `${fake().origin}/beta`]) {
      fake().options.nextLinkBase = base;
      const googleCalls = h.sandbox.google.requests.length;
      const from = fake().requests.length;
      const logs = h.main.logs.length;
      const answer = await microsoft<{ a: Connection<{ id: string }>; b: Connection<{ id: string }> }>(
        grace,
        'a: messages(first: 3) { edges { node { id } } pageInfo { hasNextPage endCursor } } b: messages(first: 3) { pageInfo { hasNextPage } }',
      );
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.me.microsoft.a.edges).toHaveLength(3);
      expect(answer.data?.me.microsoft.a.pageInfo.hasNextPage).toBe(false);
      expect(answer.data?.me.microsoft.b.pageInfo.hasNextPage).toBe(false);
      expect(graphRequests(from)).toHaveLength(1);
      expect(h.sandbox.google.requests.length).toBe(googleCalls);
      const warnings = h.main.logs.slice(logs).filter((line) => line.includes('microsoft_next_link_refused'));
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0]!)).toMatchObject({ level: expect.anything(), nextLink: `${base}/me/messages`, field: 'microsoft.messages' });
      expect(warnings[0]).not.toContain('skiptoken');
    }
  });
});

describe('a refused token (401 InvalidAuthenticationToken)', () => {
  it('is renewed once at the tenant token endpoint and the call retried', async () => {
    fake().expireAccessTokens(SEED_ACCOUNTS.grace.microsoft);
    const tokens = fake().count('token');
    const me = fake().count('me');
    const answer = await microsoft<{ profile: { mail: string } }>(grace, 'profile { mail }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.microsoft.profile.mail).toBe('grace@acme.example');
    expect(fake().count('token') - tokens).toBe(1);
    expect(fake().count('me') - me).toBe(2);
    expect(
      fake()
        .requests.filter((request) => request.route === 'token')
        .at(-1)?.url,
    ).toBe('/acme.onmicrosoft.com/oauth2/v2.0/token');
  });

  it('is REAUTHENTICATION_REQUIRED when Graph refuses the renewed token too; other fields still arrive', async () => {
    const refused = graphError(401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.');
    fake().injectFault('me', { status: 401, body: refused.body, times: 2 });
    const tokens = fake().count('token');
    const answer = await microsoft<{ profile: null; driveItems: Connection<unknown> }>(
      grace,
      'profile { mail } driveItems(first: 1) { edges { node { id } } }',
    );
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(answer.errors?.[0]).toMatchObject({ path: ['me', 'microsoft', 'profile'], extensions: { connection: 'acme-azure' } });
    expect(answer.data?.me.microsoft.driveItems.edges).toHaveLength(1);
    expect(fake().count('token') - tokens).toBe(1);
  });
});

describe('throttling', () => {
  it('waits a Retry-After that fits the budget and retries', async () => {
    fake().injectFault('events', { ...throttled(1), times: 1 });
    const before = fake().count('events');
    const answer = await microsoft<{ events: Connection<unknown> }>(grace, 'events(first: 1) { edges { node { id } } }');
    expect(answer.errors).toBeUndefined();
    expect(fake().count('events') - before).toBe(2);
  });

  it('is PROVIDER_RATE_LIMITED with retryAfter from a 429 Retry-After too long to wait; other fields arrive', async () => {
    fake().injectFault('messages', { ...throttled(120), times: 1 });
    const before = fake().count('messages');
    const answer = await microsoft<{ messages: null; profile: { mail: string } }>(grace, 'messages { edges { node { id } } } profile { mail }');
    expect(errorCodes(answer)).toEqual(['PROVIDER_RATE_LIMITED']);
    expect(answer.errors?.[0]).toMatchObject({ path: ['me', 'microsoft', 'messages'], extensions: { provider: 'waad', retryAfter: 120 } });
    expect(answer.data?.me.microsoft).toEqual({ messages: null, profile: { mail: 'grace@acme.example' } });
    expect(fake().count('messages') - before).toBe(1);
  });

  it('retries a 503 and then reports its Retry-After as PROVIDER_RATE_LIMITED; a 503 without one is UPSTREAM_UNAVAILABLE', async () => {
    fake().injectFault('driveChildren', { ...throttled(7, 503), times: 3 });
    const before = fake().count('driveChildren');
    const limited = await microsoft(grace, 'driveItems { edges { node { id } } }');
    expect(errorCodes(limited)).toEqual(['PROVIDER_RATE_LIMITED']);
    expect(limited.errors?.[0]?.extensions).toMatchObject({ retryAfter: 7 });
    expect(fake().count('driveChildren') - before).toBe(3);
    const down = graphError(503, 'serviceNotAvailable', 'Service unavailable.');
    fake().injectFault('driveChildren', { status: 503, body: down.body, times: 3 });
    expect(errorCodes(await microsoft(grace, 'driveItems { edges { node { id } } }'))).toEqual(['UPSTREAM_UNAVAILABLE']);
  });
});

describe('other failures', () => {
  it('is a null field for a 404 and UPSTREAM_UNAVAILABLE for a 500, each on its field only', async () => {
    const missing = graphError(404, 'itemNotFound', 'Item not found');
    fake().injectFault('driveChildren', { status: 404, body: missing.body });
    const broken = graphError(500, 'generalException', 'An unspecified error has occurred.');
    fake().injectFault('events', { status: 500, body: broken.body, times: 3 });
    const answer = await microsoft<Record<string, unknown>>(grace, 'driveItems { edges { node { id } } } events { edges { node { id } } } profile { mail }');
    expect(errorCodes(answer)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(answer.errors?.[0]).toMatchObject({ path: ['me', 'microsoft', 'events'], extensions: { provider: 'waad' } });
    expect(answer.data?.me.microsoft).toEqual({ driveItems: null, events: null, profile: { mail: 'grace@acme.example' } });
  });
});

describe('a missing delegated permission (403)', () => {
  it('is PROVIDER_PERMISSION_DENIED naming the permission on that field only, without a renewal', async () => {
    const { userId } = addMicrosoftUser('mary', ['User.Read', 'Calendars.ReadBasic']);
    const caller = await h.token(userId);
    const tokens = fake().count('token');
    const answer = await microsoft<Record<string, unknown>>(
      caller,
      'profile { mail } events { edges { node { id } } } messages { edges { node { id } } } driveItems { edges { node { id } } }',
    );
    expect(errorCodes(answer)).toEqual(['PROVIDER_PERMISSION_DENIED', 'PROVIDER_PERMISSION_DENIED']);
    const byField = Object.fromEntries((answer.errors ?? []).map((error) => [error.path?.at(-1), error.extensions]));
    expect(byField).toEqual({
      messages: { code: 'PROVIDER_PERMISSION_DENIED', provider: 'waad', connection: 'acme-azure', requiredPermission: 'Mail.ReadBasic' },
      driveItems: { code: 'PROVIDER_PERMISSION_DENIED', provider: 'waad', connection: 'acme-azure', requiredPermission: 'Files.Read' },
    });
    expect(answer.data?.me.microsoft).toEqual({ profile: { mail: 'mary@acme.example' }, events: { edges: [] }, messages: null, driveItems: null });
    expect(fake().count('token')).toBe(tokens);
  });

  it('names User.Read for /me (Authorization_RequestDenied)', async () => {
    const caller = await h.token(addMicrosoftUser('edsger', ['Mail.ReadBasic']).userId);
    const answer = await microsoft(caller, 'profile { mail }');
    expect(answer.errors?.[0]?.extensions).toEqual({
      code: 'PROVIDER_PERMISSION_DENIED',
      provider: 'waad',
      connection: 'acme-azure',
      requiredPermission: 'User.Read',
    });
  });
});

describe('a token expired before its first use', () => {
  it('is renewed once for concurrent requests, which all get data', async () => {
    const caller = await h.token(addMicrosoftUser('barbara', GRAPH_PERMISSIONS, -60).userId);
    const tokens = fake().count('token');
    const answers = await Promise.all(Array.from({ length: 6 }, () => microsoft<{ profile: { mail: string } }>(caller, 'profile { mail }')));
    for (const answer of answers) expect(answer.data?.me.microsoft.profile.mail).toBe('barbara@acme.example');
    expect(fake().count('token') - tokens).toBe(1);
  });

  it('is REAUTHENTICATION_REQUIRED when the identity platform says invalid_grant (AADSTS50173)', async () => {
    const { userId, accountId } = addMicrosoftUser('radia', GRAPH_PERMISSIONS, -60);
    fake().revokeRefreshTokens(accountId);
    const answer = await microsoft(await h.token(userId), 'profile { mail }');
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(answer.errors?.[0]?.extensions).toMatchObject({ provider: 'waad', connection: 'acme-azure' });
  });
});

describe('secrets', () => {
  it('never appear in the log or in Redis', async () => {
    const secrets = [...fake().issuedTokens(), fake().clientSecret];
    expect(secrets.length).toBeGreaterThan(10);
    const redis = new Redis(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const stored: string[] = [];
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${h.env.REDIS_KEY_PREFIX}*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys)
          stored.push(key, (await redis.type(key)) === 'string' ? ((await redis.get(key)) ?? '') : JSON.stringify(await redis.hgetall(key)));
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    expect(stored.length).toBeGreaterThan(0);
    const haystack = [...h.main.logs, ...stored].join('\n');
    expect(secrets.filter((secret) => haystack.includes(secret))).toEqual([]);
  });
});
