import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SEED_ACCOUNTS, SEED_USERS } from '../sandbox/index.js';
import { errorCodes, postGraphQL, startHarness, type GraphQLAnswer, type Harness } from './helpers/harness.js';

// A custom OAuth 2.0 connection's API through OAuth2Identity.request(path, query): JSON
// answers, paths that cannot leave apiUrl (refused before anything is sent), RFC 6750 errors,
// a 1 MiB cap, and one request per distinct GET.

type Identities = { me: { identities: { connection: string; request?: unknown; a?: unknown; b?: unknown }[] } };

let h: Harness;
let ada: string;

beforeAll(async () => {
  h = await startHarness();
  ada = await h.token(SEED_USERS.ada);
});
afterAll(async () => h?.close());
beforeEach(() => h.sandbox.clearFaults());

/** Runs a selection on Ada's OAuth2Identity (connection my-custom-oauth) and returns that identity's part of the answer. */
async function oauth2(selection: string, variables?: Record<string, unknown>, url = h.main.url) {
  const declared = ['path', 'query'].filter((name) => selection.includes(`$${name}`));
  const declaration = declared.length > 0 ? `(${declared.map((name) => (name === 'path' ? '$path: String!' : '$query: JSON')).join(', ')})` : '';
  const answer: GraphQLAnswer<Identities> = await postGraphQL(
    url,
    ada,
    `query ${declaration} { me { identities { connection ... on OAuth2Identity { ${selection} } } } }`,
    variables,
  );
  const identity = answer.data?.me.identities.find((candidate) => candidate.connection === 'my-custom-oauth');
  return { answer, identity };
}

const apiCalls = () => h.sandbox.oauth2.count('api');

describe('request', () => {
  it('GETs <apiUrl><path> and answers the JSON', async () => {
    const { answer, identity } = await oauth2('request(path: "/me")');
    expect(answer.errors).toBeUndefined();
    expect(identity?.request).toEqual({ id: SEED_ACCOUNTS.ada.oauth2, email: 'ada@corp.example', name: 'Ada Lovelace', department: 'Research' });
    expect(h.sandbox.oauth2.requests.at(-1)?.url).toBe('/api/me');
  });

  it('sends `query` as query parameters, arrays as repeated parameters', async () => {
    const { answer, identity } = await oauth2('request(path: "/items", query: {page: 2})');
    expect(answer.errors).toBeUndefined();
    expect(h.sandbox.oauth2.requests.at(-1)?.url).toBe('/api/items?page=2');
    expect(identity?.request).toMatchObject({ page: 2, items: [{ id: 'item-6' }, {}, {}, {}, {}] });
    await oauth2('request(path: "/items", query: $query)', { query: { tag: ['a b', 'c&d'], raw: true } });
    expect(h.sandbox.oauth2.requests.at(-1)?.url).toBe('/api/items?tag=a+b&tag=c%26d&raw=true');
  });

  it('gives null when the API answers 404', async () => {
    const { answer, identity } = await oauth2('request(path: "/nothing/here")');
    expect(answer.errors).toBeUndefined();
    expect(identity?.request).toBeNull();
  });

  it('sends the same path and query once per request', async () => {
    const before = apiCalls();
    const { answer, identity } = await oauth2('a: request(path: "/items", query: {page: 2}) b: request(path: "/items", query: {page: 2})');
    expect(answer.errors).toBeUndefined();
    expect(identity?.a).toEqual(identity?.b);
    expect(apiCalls() - before).toBe(1);
  });
});

describe('path safety', () => {
  const escaping = [
    'https://evil.example/x',
    '//evil.example/x',
    '/../x',
    '/a/%2e%2e/b',
    '/a/%2E%2E%2Fb',
    '/a%2f..%2fb',
    '/a\\b',
    '/a?x=1',
    'relative',
    '/%252e%252e/x',
    '/a/..;/b',
    '/a/./b',
    '/a#b',
    '/a\nb',
    '/a b',
    '',
  ];

  it.each(escaping)('refuses %j with BAD_USER_INPUT and sends nothing', async (path) => {
    const before = apiCalls();
    const { answer, identity } = await oauth2('request(path: $path)', { path });
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(identity?.request).toBeNull();
    expect(apiCalls()).toBe(before);
  });

  it('accepts colons, sub-delimiters and ordinary percent-encodings', async () => {
    h.sandbox.oauth2.addResource('v1/items:batchGet', { ok: true });
    const { answer, identity } = await oauth2('a: request(path: "/v1/items:batchGet") b: request(path: "/files/a%20b;v=1")');
    expect(answer.errors).toBeUndefined();
    expect(identity?.a).toEqual({ ok: true });
    expect(identity?.b).toBeNull();
    expect(
      h.sandbox.oauth2.requests
        .slice(-2)
        .map((request) => request.url)
        .sort(),
    ).toEqual(['/api/files/a%20b;v=1', '/api/v1/items:batchGet']);
  });

  it.each([{ nested: { a: 1 } }, { empty: null }, [1, 2], 'page=2', { list: [[1]] }])('refuses the query %j before calling the API', async (query) => {
    const before = apiCalls();
    const { answer } = await oauth2('request(path: "/items", query: $query)', { query });
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(apiCalls()).toBe(before);
  });
});

describe('answers and failures', () => {
  it('renews the token once after an RFC 6750 invalid_token 401 and answers', async () => {
    h.sandbox.oauth2.injectFault('api', {
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer realm="sandbox-oauth2", error="invalid_token", error_description="The access token expired"' },
      body: { error: 'invalid_token', error_description: 'The access token expired' },
    });
    const grants = h.sandbox.oauth2.count('token');
    const { answer, identity } = await oauth2('request(path: "/me")');
    expect(answer.errors).toBeUndefined();
    expect(identity?.request).toMatchObject({ id: SEED_ACCOUNTS.ada.oauth2 });
    expect(h.sandbox.oauth2.count('token') - grants).toBe(1);
  });

  it('gives UPSTREAM_UNAVAILABLE for an answer over 1 MiB and for an answer that is not JSON', async () => {
    h.sandbox.oauth2.addResource('big', { blob: 'x'.repeat(1024 * 1024) });
    h.sandbox.oauth2.addResource('page.html', '<html><body>Sign in</body></html>');
    const before = apiCalls();
    const { answer } = await oauth2('big: request(path: "/big") html: request(path: "/page.html")');
    expect(errorCodes(answer)).toEqual(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE']);
    expect(answer.errors?.map((error) => error.extensions?.provider)).toEqual(['oauth2', 'oauth2']);
    expect(answer.errors?.find((error) => error.path?.includes('html'))?.message).toContain('did not answer JSON');
    // An oversized answer is not retried: it would be as large again.
    expect(apiCalls() - before).toBe(2);
    expect(answer.data?.me.identities).toHaveLength(4);
  });

  it('maps 429, 400, 403 and 5xx', async () => {
    const o2 = h.sandbox.oauth2;
    o2.injectFault('api', { status: 429, headers: { 'Retry-After': '30' }, body: { error: 'rate_limited' } });
    const calls = o2.count('api');
    const limited = await oauth2('request(path: "/me")');
    // A Retry-After beyond the wait budget is not retried: one call, reported at once.
    expect(o2.count('api') - calls).toBe(1);
    expect(limited.answer.errors?.[0]?.extensions).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', provider: 'oauth2', retryAfter: 30 });

    o2.injectFault('api', { status: 400, body: { error: 'invalid_request', error_description: 'page must be a positive integer' } });
    const bad = await oauth2('request(path: "/items", query: {page: 0})');
    expect(errorCodes(bad.answer)).toEqual(['BAD_USER_INPUT']);
    expect(bad.answer.errors?.[0]?.message).toContain('page must be a positive integer');

    o2.injectFault('api', { status: 403, headers: { 'WWW-Authenticate': 'Bearer error="insufficient_scope", scope="admin"' } });
    const forbidden = await oauth2('request(path: "/admin")');
    expect(errorCodes(forbidden.answer)).toEqual(['BAD_USER_INPUT']);
    expect(forbidden.answer.errors?.[0]?.message).toContain('insufficient_scope');

    o2.injectFault('api', { status: 502, body: 'Bad Gateway', times: 3 });
    const down = await oauth2('request(path: "/me")');
    expect(errorCodes(down.answer)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(down.answer.data?.me.identities).toHaveLength(4);
  });

  it('gives CONFIGURATION_ERROR naming the connection when OAUTH2_CONNECTIONS does not list it', async () => {
    const unconfigured = await h.startGateway({ OAUTH2_CONNECTIONS: '{}' });
    const before = apiCalls();
    const { answer, identity } = await oauth2('request(path: "/me")', undefined, unconfigured.url);
    expect(errorCodes(answer)).toEqual(['CONFIGURATION_ERROR']);
    expect(answer.errors?.[0]?.message).toContain('my-custom-oauth');
    expect(answer.errors?.[0]?.extensions).toMatchObject({ provider: 'oauth2' });
    expect(identity?.request).toBeNull();
    expect(apiCalls()).toBe(before);
  });
});
