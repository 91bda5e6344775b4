import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import type { Types } from '@graphql-codegen/plugin-helpers';
import { GraphQLClient } from 'graphql-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import codegenConfig from '../codegen.js';
import { loadAccounts, reconnect, renderAccounts, type AuthClient } from '../examples/browser/accounts.js';
import * as typedDocuments from '../examples/gql/graphql.js';
import manifest from '../examples/persisted-query-manifest.json' with { type: 'json' };
import { createPersistedQueryClient } from '../examples/mobile/persisted-client.js';
import { MobileProfile } from '../examples/mobile/profile.js';
import { fetchUsers } from '../examples/partner/users.js';
import { SEED_USERS } from '../sandbox/index.js';
import { MANIFEST_PATH, PERSISTED_DOCUMENTS_PATH, manifestText, toPersistedQueryManifest } from '../scripts/persisted-query-manifest.js';
import { rawUser, startHarness, type Harness } from './helpers/harness.js';

// Every example under examples/ runs here as a user would run it, against the real gateway on the
// sandbox; the fakes and a counting fetch show what each one cost. The last block keeps the
// committed typed documents and the persisted-query manifest in step with the examples' operations.

/** A fetch that records every request it passes on. */
function countingFetch(): { fetch: typeof fetch; requests: { method: string; url: URL; body: unknown }[] } {
  const requests: { method: string; url: URL; body: unknown }[] = [];
  return {
    requests,
    fetch: async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      requests.push({ method: init?.method ?? 'GET', url, body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined });
      return fetch(input, init);
    },
  };
}

describe('partner example: users(ids:) paged with a machine-to-machine token', () => {
  let h: Harness;
  let client: GraphQLClient;
  let gatewayRequests: ReturnType<typeof countingFetch>['requests'];
  const deadGrant = SEED_USERS.revokedGoogle;
  const bulk = Array.from({ length: 127 }, (_, i) => `auth0|partner-${String(i).padStart(3, '0')}`);

  beforeAll(async () => {
    h = await startHarness({ redis: false });
    for (const id of bulk) h.sandbox.tenant.addUser({ ...rawUser(id), name: `Partner user ${id.slice(-3)}` });
    const token = await h.sandbox.tenant.issueAccessToken({
      sub: 'partner-client@clients',
      scope: 'read:users read:user_idp_tokens',
      gty: 'client-credentials',
    });
    const counting = countingFetch();
    gatewayRequests = counting.requests;
    client = new GraphQLClient(h.main.url, { headers: { authorization: `Bearer ${token}` }, fetch: counting.fetch });
  });
  afterAll(async () => h?.close());

  it('reads 130 ids in ceil(130 / 40) = 4 requests, in order, keeping a null user and a dead grant beside the rest', async () => {
    const ids = [SEED_USERS.ada, 'auth0|nobody', ...bulk.slice(0, 60), deadGrant, ...bulk.slice(60)];
    expect(ids).toHaveLength(130);
    h.sandbox.resetCounters();

    const results = await fetchUsers(client, ids, { pageSize: 40 });

    expect(gatewayRequests.map((request) => (request.body as { variables: { ids: string[] } }).variables.ids.length)).toEqual([40, 40, 40, 10]);
    // One Auth0 search per page (40 ids fit one search); the unknown id costs one GET of its own.
    expect(h.sandbox.tenant.count('searchUsers')).toBe(4);
    expect(results.map((result) => result.id)).toEqual(ids);

    const [ada, nobody] = results;
    expect(ada?.user).toMatchObject({ id: SEED_USERS.ada, name: 'Ada Lovelace', google: { token: { state: 'VALID' }, accessToken: expect.any(String) } });
    expect(ada?.errors).toEqual([]);
    expect(nobody).toEqual({ id: 'auth0|nobody', user: null, errors: [] });

    // The dead grant nulls only that user's accessToken; the error is hers, with its path in her page.
    const dead = results[62]!;
    expect(dead.user).toMatchObject({ id: deadGrant, name: 'Katherine Johnson', google: { connection: 'google-oauth2', accessToken: null } });
    expect(dead.errors).toHaveLength(1);
    expect(dead.errors[0]).toMatchObject({
      path: ['users', 22, 'google', 'accessToken'],
      extensions: { code: 'REAUTHENTICATION_REQUIRED', provider: 'google-oauth2', connection: 'google-oauth2' },
    });
    expect(h.sandbox.google.count('token')).toBe(1);

    for (const result of results.filter((r) => r.id.startsWith('auth0|partner-'))) {
      expect(result.user).toEqual({ id: result.id, name: `Partner user ${result.id.slice(-3)}`, email: expect.any(String), google: null });
      expect(result.errors).toEqual([]);
    }
  });

  it('pages at most 100 ids per request, the gateway limit', async () => {
    gatewayRequests.length = 0;
    const results = await fetchUsers(client, [...bulk, SEED_USERS.grace], { pageSize: 100 });
    expect(gatewayRequests).toHaveLength(2);
    expect(results.at(-1)?.user?.name).toBe('Grace Hopper');
    await expect(fetchUsers(client, bulk, { pageSize: 101 })).rejects.toThrow(RangeError);
    expect(gatewayRequests).toHaveLength(2);
  });
});

describe('browser example: a dead provider token becomes a login redirect', () => {
  let h: Harness;

  /** An auth0-spa-js stand-in: hands out a user token and records loginWithRedirect calls. */
  async function authFor(userId: string): Promise<AuthClient & { tokenCalls: number; redirects: unknown[] }> {
    const token = await h.token(userId, 'openid profile email');
    const auth = {
      tokenCalls: 0,
      redirects: [] as unknown[],
      getTokenSilently: async () => {
        auth.tokenCalls += 1;
        return token;
      },
      loginWithRedirect: async (options: unknown) => {
        auth.redirects.push(options);
      },
    };
    return auth;
  }

  beforeAll(async () => {
    h = await startHarness({ redis: false });
  });
  afterAll(async () => h?.close());

  it('dead Google grant: the rest renders, and Reconnect asks Google for consent and offline access again', async () => {
    const userId = SEED_USERS.revokedGoogle;
    const auth = await authFor(userId);
    h.sandbox.resetCounters();

    const view = await loadAccounts(h.main.url, auth);

    expect(auth.tokenCalls).toBe(1);
    expect(h.sandbox.google.count('token')).toBe(1);
    expect(view.me).toMatchObject({ id: userId, name: 'Katherine Johnson', google: { profile: null }, facebook: { profile: { name: 'Katherine Johnson' } } });
    expect(view.reconnect).toEqual([
      {
        provider: 'google-oauth2',
        connection: 'google-oauth2',
        authorizationParams: { connection: 'google-oauth2', prompt: 'consent', access_type: 'offline' },
      },
    ]);
    const html = renderAccounts(view);
    expect(html).toContain('<h2>Katherine Johnson</h2>');
    expect(html).toContain('<p>Facebook: Katherine Johnson</p>');
    expect(html).toContain('<button type="button" data-connection="google-oauth2">Reconnect google-oauth2</button>');

    expect(auth.redirects).toEqual([]);
    await reconnect(auth, view.reconnect[0]!);
    expect(auth.redirects).toEqual([{ authorizationParams: { connection: 'google-oauth2', prompt: 'consent', access_type: 'offline' } }]);
  });

  it('dead Facebook token: Reconnect asks Facebook for a fresh login', async () => {
    const userId = SEED_USERS.deadFacebook;
    const auth = await authFor(userId);
    h.sandbox.resetCounters();

    const view = await loadAccounts(h.main.url, auth);

    expect(h.sandbox.facebook.count('me')).toBe(1);
    expect(view.me).toMatchObject({ id: userId, name: 'Hedy Lamarr', google: { profile: { email: 'hedy@example.com' } }, facebook: { profile: null } });
    expect(view.reconnect).toEqual([{ provider: 'facebook', connection: 'facebook', authorizationParams: { connection: 'facebook', prompt: 'login' } }]);
    const html = renderAccounts(view);
    expect(html).toContain('<h2>Hedy Lamarr</h2>');
    expect(html).toContain('<p>Google: Hedy Lamarr &lt;hedy@example.com&gt;</p>');
    await reconnect(auth, view.reconnect[0]!);
    expect(auth.redirects).toEqual([{ authorizationParams: { connection: 'facebook', prompt: 'login' } }]);
  });

  it('GitHub and Microsoft: one GitHub GraphQL document for profile and repositories, Graph renewed once', async () => {
    const auth = await authFor(SEED_USERS.grace);
    h.sandbox.resetCounters();

    const view = await loadAccounts(h.main.url, auth);

    expect(view.reconnect).toEqual([]);
    expect(view.me.github?.profile?.login).toBe('ghopper');
    expect(view.me.github?.repositories?.edges).toHaveLength(3);
    expect(view.me.microsoft?.profile?.displayName).toBe('Grace Hopper');
    // profile and repositories travel in one upstream GraphQL request; Grace's Microsoft token was expired.
    expect(h.sandbox.github.count('graphql')).toBe(1);
    expect(h.sandbox.microsoft.count('token')).toBe(1);
    const html = renderAccounts(view);
    expect(html).toMatch(/<p>GitHub: ghopper \([^)]+, [^)]+, [^)]+\)<\/p>/);
    expect(html).toContain('<p>Microsoft: Grace Hopper</p>');
  });

  it('a user whose tokens all work gets no reconnect button', async () => {
    const view = await loadAccounts(h.main.url, await authFor(SEED_USERS.ada));
    expect(view.reconnect).toEqual([]);
    expect(view.me.google?.profile?.email).toBe('ada@example.com');
    expect(renderAccounts(view)).not.toContain('<button');
  });
});

describe('mobile example: automatic persisted queries over fetch', () => {
  let h: Harness;
  let token: string;
  const profile = manifest.operations.find((operation) => operation.name === 'MobileProfile')!;

  beforeAll(async () => {
    h = await startHarness({ redis: false });
    token = await h.token(SEED_USERS.ada);
  });
  afterAll(async () => h?.close());

  const newClient = (fetchImpl: typeof fetch) =>
    createPersistedQueryClient({ url: h.main.url, getAccessToken: async () => token, operations: manifest.operations, fetch: fetchImpl });

  it('sends the hash alone (GET), the query once when the gateway does not know it (POST), then the hash alone again', async () => {
    const counting = countingFetch();
    const client = newClient(counting.fetch);

    const first = await client.execute(MobileProfile);
    expect(first.errors).toBeUndefined();
    expect(first.data?.me).toMatchObject({ id: SEED_USERS.ada, name: 'Ada Lovelace' });
    expect(counting.requests.map((request) => request.method)).toEqual(['GET', 'POST']);
    const [hashOnly, register] = counting.requests;
    expect(hashOnly!.url.searchParams.has('query')).toBe(false);
    expect(JSON.parse(hashOnly!.url.searchParams.get('extensions')!)).toEqual({ persistedQuery: { version: 1, sha256Hash: profile.id } });
    expect(register!.body).toEqual({
      query: profile.body,
      operationName: 'MobileProfile',
      extensions: { persistedQuery: { version: 1, sha256Hash: profile.id } },
    });

    const second = await client.execute(MobileProfile);
    expect(second).toEqual(first);
    expect(counting.requests.map((request) => request.method)).toEqual(['GET', 'POST', 'GET']);

    // Another install: the gateway already knows the hash, so one GET is all it takes.
    const other = countingFetch();
    expect((await newClient(other.fetch).execute(MobileProfile)).data).toEqual(first.data);
    expect(other.requests.map((request) => request.method)).toEqual(['GET']);
  });

  it('runs by hash alone, first time, on a gateway that trusts only the committed manifest (TRUSTED_DOCUMENTS)', async () => {
    const trusting = await h.startGateway({ TRUSTED_DOCUMENTS: MANIFEST_PATH });
    const counting = countingFetch();
    const client = createPersistedQueryClient({ url: trusting.url, getAccessToken: async () => token, operations: manifest.operations, fetch: counting.fetch });
    const { data, errors } = await client.execute(MobileProfile);
    expect(errors).toBeUndefined();
    expect(data?.me.id).toBe(SEED_USERS.ada);
    expect(counting.requests.map((request) => request.method)).toEqual(['GET']);
  });
});

describe('typed documents and the persisted-query manifest', () => {
  let outputs: Types.FileOutput[];
  beforeAll(async () => {
    outputs = (await generate({ ...codegenConfig, silent: true, cwd: process.cwd() }, false)) as Types.FileOutput[];
  });

  it('the committed test/gql and examples/gql are what `npm run codegen` generates', () => {
    expect(outputs.map((output) => output.filename).sort()).toEqual(
      expect.arrayContaining(['examples/gql/graphql.ts', 'examples/gql/persisted-documents.json', 'test/gql/graphql.ts']),
    );
    for (const output of outputs) expect(readFileSync(output.filename, 'utf8'), `${output.filename} is stale: run npm run codegen`).toBe(output.content);
  });

  it('the committed manifest is the Apollo form of the generated persisted documents', () => {
    const generated = outputs.find((output) => output.filename === PERSISTED_DOCUMENTS_PATH)!;
    const expected = manifestText(toPersistedQueryManifest(JSON.parse(generated.content) as Record<string, string>));
    expect(readFileSync(MANIFEST_PATH, 'utf8'), `${MANIFEST_PATH} is stale: run npm run codegen`).toBe(expected);
  });

  it('lists every example operation once, under the id sha256(body) its typed document carries', () => {
    expect(manifest).toMatchObject({ format: 'apollo-persisted-query-manifest', version: 1 });
    expect(manifest.operations.map((operation) => operation.name)).toEqual(['MobileProfile', 'MyAccounts', 'PartnerUsers']);
    for (const operation of manifest.operations) {
      expect(operation.id).toBe(createHash('sha256').update(operation.body).digest('hex'));
      expect(operation.type).toBe('query');
    }
    const documentHashes = Object.values(typedDocuments as Record<string, unknown>)
      .filter((value) => value instanceof typedDocuments.TypedDocumentString)
      .map((document) => document.__meta__?.hash as string);
    expect(documentHashes.sort()).toEqual(manifest.operations.map((operation) => `sha256:${operation.id}`).sort());
  });
});
