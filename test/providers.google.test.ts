import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SEED_ACCOUNTS, SEED_USERS } from '../sandbox/index.js';
import { googleRateLimitBody } from '../sandbox/google.js';
import { errorCodes, postGraphQL, startHarness, type GraphQLAnswer, type Harness } from './helpers/harness.js';

// Google's userinfo, Calendar and Drive as typed fields, paginated to the end,
// deduplicated per request, and failing alone with a precise code.

type Connection<T> = { edges: { cursor: string; node: T }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };

let h: Harness;
let ada: string;

beforeAll(async () => {
  h = await startHarness({ env: { UPSTREAM_TIMEOUT_MS: '400' } });
  ada = await h.token(SEED_USERS.ada);
});
afterAll(async () => h?.close());
beforeEach(() => h.sandbox.clearFaults());

const VARIABLE_TYPES: Record<string, string> = { first: 'Int', after: 'String', timeMin: 'DateTime', q: 'String' };

/** Runs a selection under `me { google { … } }`, declaring only the variables it uses. */
async function google<T>(query: string, variables?: Record<string, unknown>): Promise<GraphQLAnswer<{ me: { google: T } }>> {
  const used = Object.keys(VARIABLE_TYPES).filter((name) => query.includes(`$${name}`));
  const declaration = used.length > 0 ? `(${used.map((name) => `$${name}: ${VARIABLE_TYPES[name]}`).join(', ')})` : '';
  return h.query<{ me: { google: T } }>(ada, `query ${declaration} { me { google { ${query} } } }`, variables);
}

function account() {
  return h.sandbox.google.account(SEED_ACCOUNTS.ada.google)!;
}

describe('profile', () => {
  it('returns the userinfo of the linked Google account', async () => {
    const answer = await google<{ profile: unknown }>('profile { sub email emailVerified name picture }');
    expect(answer.errors).toBeUndefined();
    const expected = account();
    expect(answer.data?.me.google.profile).toEqual({
      sub: expected.sub,
      email: expected.email,
      emailVerified: expected.emailVerified ?? null,
      name: expected.name,
      picture: expected.picture ?? null,
    });
  });

  it('sends the same GET once per request, however often the query asks for it', async () => {
    const before = h.sandbox.google.count('userinfo');
    const answer = await h.query(ada, '{ me { google { a: profile { sub } b: profile { email } } first: google { profile { name } } } }');
    expect(answer.errors).toBeUndefined();
    expect(h.sandbox.google.count('userinfo') - before).toBe(1);
  });
});

describe('calendarEvents', () => {
  it('pages through every event in start order to the end, with singleEvents and orderBy=startTime', async () => {
    const timeMin = new Date(Date.now() - 7 * 86_400_000).toISOString();
    const seen: { id: string; start: string }[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page++) {
      const answer: GraphQLAnswer<{ me: { google: { calendarEvents: Connection<{ id: string; start: string }> } } }> = await google(
        'calendarEvents(first: $first, after: $after, timeMin: $timeMin) { edges { cursor node { id start } } pageInfo { hasNextPage endCursor } }',
        { first: 4, after, timeMin },
      );
      expect(answer.errors).toBeUndefined();
      const connection = answer.data!.me.google.calendarEvents;
      seen.push(...connection.edges.map((edge) => edge.node));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    const expected = account().events!.filter(
      (event) => event.status !== 'cancelled' && Date.parse(event.end?.dateTime ?? `${event.end?.date}T00:00:00Z`) > Date.parse(timeMin),
    );
    expect(seen.map((event) => event.id).sort()).toEqual(expected.map((event) => event.id).sort());
    expect(new Set(seen.map((event) => event.id)).size).toBe(seen.length);
    const starts = seen.map((event) => Date.parse(event.start));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    const urls = h.sandbox.google.requests.filter((request) => request.route === 'calendarEvents').map((request) => request.url);
    for (const url of urls) expect(url).toMatch(/singleEvents=true.*orderBy=startTime|orderBy=startTime.*singleEvents=true/);
  });

  it('shows all-day events as midnight UTC with allDay true', async () => {
    const answer = await google<{ calendarEvents: Connection<{ allDay: boolean; start: string; end: string }> }>(
      'calendarEvents(first: 100, timeMin: $timeMin) { edges { node { allDay start end } } }',
      { timeMin: new Date(Date.now() - 30 * 86_400_000).toISOString() },
    );
    const allDay = answer.data!.me.google.calendarEvents.edges.map((edge) => edge.node).filter((node) => node.allDay);
    expect(allDay.length).toBeGreaterThan(0);
    for (const node of allDay) expect(node.start).toMatch(/T00:00:00(\.000)?Z$/);
  });

  it('resumes after a cursor in the middle of a page', async () => {
    const timeMin = new Date(Date.now() - 7 * 86_400_000).toISOString();
    const all = await google<{ calendarEvents: Connection<{ id: string }> }>('calendarEvents(first: 6, timeMin: $timeMin) { edges { cursor node { id } } }', {
      timeMin,
    });
    const edges = all.data!.me.google.calendarEvents.edges;
    const resumed = await google<{ calendarEvents: Connection<{ id: string }> }>(
      'calendarEvents(first: 2, after: $after, timeMin: $timeMin) { edges { node { id } } }',
      { after: edges[2]!.cursor, timeMin },
    );
    expect(resumed.data!.me.google.calendarEvents.edges.map((edge) => edge.node.id)).toEqual([edges[3]!.node.id, edges[4]!.node.id]);
  });

  it('caps first at Google maximum and refuses a negative first or a foreign cursor before calling Google', async () => {
    await google('calendarEvents(first: 100000) { edges { node { id } } }');
    expect(h.sandbox.google.requests.at(-1)?.url).toContain('maxResults=2500');
    const before = h.sandbox.google.count('calendarEvents');
    const negative = await google('calendarEvents(first: -1) { edges { node { id } } }');
    expect(errorCodes(negative)).toEqual(['BAD_USER_INPUT']);
    const files = await google<{ driveFiles: Connection<unknown> }>('driveFiles(first: 1) { pageInfo { endCursor } }');
    const foreign = await google('calendarEvents(after: $after) { edges { node { id } } }', { after: files.data!.me.google.driveFiles.pageInfo.endCursor });
    expect(errorCodes(foreign)).toEqual(['BAD_USER_INPUT']);
    const garbage = await google('calendarEvents(after: $after) { edges { node { id } } }', { after: 'not-a-cursor' });
    expect(errorCodes(garbage)).toEqual(['BAD_USER_INPUT']);
    expect(h.sandbox.google.count('calendarEvents')).toBe(before);
  });
});

describe('driveFiles', () => {
  it('asks for exactly the exposed fields and filters with the Drive query', async () => {
    const seen: { id: string; name: string; mimeType: string; modifiedTime: string }[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page++) {
      const answer: GraphQLAnswer<{ me: { google: { driveFiles: Connection<{ id: string; name: string; mimeType: string; modifiedTime: string }> } } }> =
        await google(
          'driveFiles(first: $first, after: $after, query: $q) { edges { node { id name mimeType modifiedTime } } pageInfo { hasNextPage endCursor } }',
          {
            first: 5,
            after,
            q: 'trashed = false',
          },
        );
      expect(answer.errors).toBeUndefined();
      const connection = answer.data!.me.google.driveFiles;
      seen.push(...connection.edges.map((edge) => edge.node));
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    const expected = account().files!.filter((file) => !file.trashed);
    expect(seen.map((file) => file.id).sort()).toEqual(expected.map((file) => file.id).sort());
    for (const file of seen) expect(file.modifiedTime).toEqual(expect.any(String));
    const url = decodeURIComponent(h.sandbox.google.requests.filter((request) => request.route === 'driveFiles').at(-1)!.url);
    expect(url).toContain('fields=nextPageToken,files(id,name,mimeType,modifiedTime)');
  });
});

describe('failures stay in their field', () => {
  it('renews the token once after a 401 and answers', async () => {
    h.sandbox.google.injectFault('userinfo', {
      status: 401,
      body: {
        error: {
          code: 401,
          message: 'Request had invalid authentication credentials.',
          errors: [{ message: 'Invalid Credentials', domain: 'global', reason: 'authError' }],
          status: 'UNAUTHENTICATED',
        },
      },
      headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
    });
    const grants = h.sandbox.google.count('token');
    const answer = await google<{ profile: { sub: string } }>('profile { sub }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.google.profile.sub).toBe(account().sub);
    expect(h.sandbox.google.count('token') - grants).toBe(1);
  });

  it('gives PROVIDER_RATE_LIMITED for a 403 rateLimitExceeded without waiting, and keeps the other fields', async () => {
    h.sandbox.google.injectFault('userinfo', { status: 403, body: googleRateLimitBody('rateLimitExceeded', 403) });
    const started = Date.now();
    const answer = await h.query<{ me: { id: string; google: { profile: unknown; driveFiles: unknown } } }>(
      ada,
      '{ me { id google { profile { sub } driveFiles(first: 1) { edges { node { id } } } } } }',
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(answer.data?.me.id).toBe(SEED_USERS.ada);
    expect(answer.data?.me.google.profile).toBeNull();
    expect(answer.data?.me.google.driveFiles).not.toBeNull();
    expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', provider: 'google-oauth2', retryAfter: 10 });
  });

  it('retries a 429 briefly and succeeds', async () => {
    h.sandbox.google.injectFault('userinfo', { status: 429, body: googleRateLimitBody('rateLimitExceeded', 429) });
    const before = h.sandbox.google.count('userinfo');
    const answer = await google<{ profile: { sub: string } }>('profile { sub }');
    expect(answer.errors).toBeUndefined();
    expect(h.sandbox.google.count('userinfo') - before).toBe(2);
  });

  it('gives UPSTREAM_UNAVAILABLE after retried 500s and after a hang, never REAUTHENTICATION_REQUIRED', async () => {
    h.sandbox.google.injectFault('userinfo', { status: 500, body: { error: { code: 500, message: 'Backend Error' } }, times: 3 });
    const failed = await google('profile { sub }');
    expect(errorCodes(failed)).toEqual(['UPSTREAM_UNAVAILABLE']);
    h.sandbox.google.injectFault('userinfo', { hang: true, times: 3 });
    const hung = await h.query<{ me: { id: string } }>(ada, '{ me { id google { profile { sub } } } }');
    expect(hung.data?.me.id).toBe(SEED_USERS.ada);
    expect(errorCodes(hung)).toEqual(['UPSTREAM_UNAVAILABLE']);
  });

  it('reports the upstream calls of the request when asked with x-upstream-stats: 1', async () => {
    const answer = await postGraphQL(h.main.url, ada, '{ me { google { profile { sub } } } }', undefined, { 'x-upstream-stats': '1' });
    const upstream = answer.extensions?.upstream as Record<string, { requests: number; totalMs: number }>;
    expect(upstream['google-oauth2']?.requests).toBe(1);
    expect(upstream['google-oauth2']?.totalMs).toBeGreaterThan(0);
    const plain = await h.query(ada, '{ me { google { profile { sub } } } }');
    expect(plain.extensions?.upstream).toBeUndefined();
  });
});
