import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { hashSlot, type RedisClusterStore } from '../src/store/redis-cluster.js';
import type { RedisStore } from '../src/store/redis.js';
import { clusterAvailable, errorCodes, startHarness, type GraphQLAnswer, type Harness, type RunningGateway } from './helpers/harness.js';

// Persisted operations (src/plugins/use-persisted-operations.ts), over real HTTP against the
// sandbox tenant. Automatic persisted queries (Apollo's protocol) on the Redis store and on the
// in-memory store: an unknown hash is PERSISTED_QUERY_NOT_FOUND, the document with its hash
// registers it (only when it validates, only up to PERSISTED_QUERY_MAX_BYTES, under a TTL), the
// hash alone then runs it over POST and GET, and a hash that is not the document's SHA-256 is
// refused. TRUSTED_DOCUMENTS: only the manifest's operations run, by either id form; any document
// text is refused. Persisted documents still pass caller auth, document limits and the budget.

const ADA = SEED_USERS.ada;
const ME = 'query Me { me { id } }';
const USER = 'query UserById($id: ID!) { user(id: $id) { id } }';
/** Two upstream calls: the Management read of the caller and Google's userinfo. */
const EXPENSIVE = 'query MyGoogleEmail { me { google { profile { email } } } }';
const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
/** A document of its own per test, so no test finds what another registered. */
const fresh = (label: string): string => `query Me { me { id } } # ${label} ${Math.random()}`;

let h: Harness;
/** REDIS_URL (the harness default), APQ on. */
let redis: RunningGateway;
/** A second instance on the same Redis and key prefix. */
let redisPeer: RunningGateway;
/** No shared store: process memory. */
let memory: RunningGateway;
/** Registers documents of at most 100 bytes. */
let small: RunningGateway;
/** The same Redis store, with a limit of 8 tokens per document. */
let tight: RunningGateway;
/** The same Redis store, with a budget of one upstream call per operation. */
let frugal: RunningGateway;
/** TRUSTED_DOCUMENTS set, on the same Redis store. */
let trusted: RunningGateway;
let token: string;
let admin: string;
let manifestDir: string;
let manifest: string;

const TRUSTED_USER_ID = 'user-by-id@1';

beforeAll(async () => {
  manifestDir = mkdtempSync(path.join(tmpdir(), 'persisted-operations-'));
  manifest = path.join(manifestDir, 'manifest.json');
  writeFileSync(
    manifest,
    JSON.stringify({
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: [
        { id: sha256(ME), name: 'Me', type: 'query', body: ME },
        { id: TRUSTED_USER_ID, name: 'UserById', type: 'query', body: USER },
      ],
    }),
  );
  h = await startHarness();
  redis = h.main;
  redisPeer = await h.startGateway();
  memory = await h.startGateway({ REDIS_URL: '', TOKEN_ENCRYPTION_KEY: '' });
  small = await h.startGateway({ PERSISTED_QUERY_MAX_BYTES: '100' });
  tight = await h.startGateway({ MAX_TOKENS: '8' });
  frugal = await h.startGateway({ MAX_UPSTREAM_CALLS: '1' });
  trusted = await h.startGateway({ TRUSTED_DOCUMENTS: manifest });
  token = await h.token(ADA);
  admin = await h.token(ADA, 'openid read:users');
});

afterAll(async () => {
  await h?.close();
  if (manifestDir) rmSync(manifestDir, { recursive: true, force: true });
});

/** A raw answer: status, headers and the parsed body. */
interface Answer extends GraphQLAnswer {
  headers: Headers;
}

async function answerOf(response: Response): Promise<Answer> {
  const body = (await response.json()) as Omit<GraphQLAnswer, 'status'>;
  return { status: response.status, headers: response.headers, ...body };
}

/** POSTs any JSON body as a GraphQL request. */
async function post(gateway: RunningGateway, body: Record<string, unknown>, bearer: string | null = token): Promise<Answer> {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return answerOf(response);
}

/** A GET request with these query-string parameters (objects JSON-encoded), as CDNs see it. */
async function get(gateway: RunningGateway, params: Record<string, unknown>, bearer = token): Promise<Answer> {
  const url = new URL(gateway.url);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, typeof value === 'string' ? value : JSON.stringify(value));
  const response = await fetch(url, {
    headers: { accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${bearer}` },
  });
  return answerOf(response);
}

const persisted = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

/** Management API reads at the fake tenant. */
function managementCalls(): number {
  return h.sandbox.tenant.count('getUser') + h.sandbox.tenant.count('searchUsers');
}

/** The Redis client of a gateway on REDIS_URL (keys carry the harness's REDIS_KEY_PREFIX). */
function redisOf(gateway: RunningGateway): Redis {
  return (gateway.gateway.store as RedisStore).client;
}

const storeKey = (hash: string) => `apq:{${hash}}`;

function expectNotFound(answer: Answer): void {
  expect(answer.status).toBe(200);
  expect(answer.data).toBeUndefined();
  expect(answer.errors).toEqual([{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }]);
  // A cache in front must not keep answering "not found" once the document is registered.
  expect(answer.headers.get('cache-control')).toBe('no-store');
}

describe.each([
  ['the Redis store', () => redis],
  ['the in-memory store', () => memory],
])('automatic persisted queries on %s', (_name, gatewayOf) => {
  it('answers an unknown hash alone with PERSISTED_QUERY_NOT_FOUND (no longer "Must provide query string."), calling nothing upstream', async () => {
    const before = managementCalls();
    const answer = await post(gatewayOf(), { extensions: persisted(sha256(fresh('unknown'))) });
    expectNotFound(answer);
    expect(managementCalls()).toBe(before);
  });

  it('registers a document sent with its hash, then runs the hash alone over POST and over GET', async () => {
    const gateway = gatewayOf();
    const query = fresh('register');
    const hash = sha256(query);
    expectNotFound(await post(gateway, { extensions: persisted(hash) }));

    const registering = await post(gateway, { query, extensions: persisted(hash) });
    expect(registering).toMatchObject({ status: 200, data: { me: { id: ADA } } });
    expect(registering.errors).toBeUndefined();
    expect(await gateway.gateway.store.get(storeKey(hash))).toBe(query);

    expect(await post(gateway, { extensions: persisted(hash) })).toMatchObject({ status: 200, data: { me: { id: ADA } } });
    expect(await get(gateway, { extensions: persisted(hash) })).toMatchObject({ status: 200, data: { me: { id: ADA } } });
  });

  it('runs a registered document with variables over GET (?extensions=…&variables=…)', async () => {
    const gateway = gatewayOf();
    const query = `${USER} # ${Math.random()}`;
    const hash = sha256(query);
    expect(await post(gateway, { query, variables: { id: ADA }, extensions: persisted(hash) }, admin)).toMatchObject({ data: { user: { id: ADA } } });
    const answer = await get(gateway, { extensions: persisted(hash), variables: { id: ADA } }, admin);
    expect(answer).toMatchObject({ status: 200, data: { user: { id: ADA } } });
    expect(answer.errors).toBeUndefined();
  });

  it('accepts the id as documentId too, with or without the sha256: prefix, and an upper-case hash', async () => {
    const gateway = gatewayOf();
    const query = fresh('documentId');
    const hash = sha256(query);
    await post(gateway, { query, extensions: persisted(hash.toUpperCase()) });
    for (const documentId of [`sha256:${hash}`, hash, hash.toUpperCase()]) {
      expect(await post(gateway, { documentId })).toMatchObject({ status: 200, data: { me: { id: ADA } } });
    }
    expect(await get(gateway, { documentId: `sha256:${hash}` })).toMatchObject({ status: 200, data: { me: { id: ADA } } });
  });

  it('refuses a hash that is not the SHA-256 of its document, registering and running nothing', async () => {
    const gateway = gatewayOf();
    const query = fresh('mismatch');
    const wrong = sha256(`${query} `);
    const before = managementCalls();
    const answer = await post(gateway, { query, extensions: persisted(wrong) });
    expect(answer.status).toBe(400);
    expect(answer.data).toBeUndefined();
    expect(errorCodes(answer)).toEqual(['PERSISTED_QUERY_HASH_MISMATCH']);
    expect(managementCalls()).toBe(before);
    expect(await gateway.gateway.store.get(storeKey(wrong))).toBeNull();
    expect(await gateway.gateway.store.get(storeKey(sha256(query)))).toBeNull();
    expectNotFound(await post(gateway, { extensions: persisted(wrong) }));
  });

  it('does not register a document that fails validation', async () => {
    const gateway = gatewayOf();
    const query = `query Broken { me { noSuchField } } # ${Math.random()}`;
    const hash = sha256(query);
    const answer = await post(gateway, { query, extensions: persisted(hash) });
    expect(answer.status).toBe(400);
    expect(errorCodes(answer)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(await gateway.gateway.store.get(storeKey(hash))).toBeNull();
  });

  it('refuses an unsupported persisted query version and a malformed id with 400 BAD_REQUEST', async () => {
    const gateway = gatewayOf();
    const hash = sha256(ME);
    for (const body of [
      { query: ME, extensions: { persistedQuery: { version: 2, sha256Hash: hash } } },
      { extensions: { persistedQuery: { version: 1, sha256Hash: 42 } } },
      { extensions: { persistedQuery: 'yes' } },
      { documentId: 'x'.repeat(300) },
      { documentId: sha256('a'), extensions: persisted(sha256('b')) },
    ]) {
      const answer = await post(gateway, body);
      expect(answer.status).toBe(400);
      expect(errorCodes(answer)).toEqual(['BAD_REQUEST']);
    }
  });

  it('answers GET parameters that are not JSON with 400 BAD_REQUEST, not a logged 500', async () => {
    const gateway = gatewayOf();
    for (const params of [{ extensions: '{"persistedQuery":' }, { extensions: persisted(sha256(ME)), variables: '{id' }]) {
      const answer = await get(gateway, params);
      expect(answer.status).toBe(400);
      expect(errorCodes(answer)).toEqual(['BAD_REQUEST']);
    }
    expect(gateway.logs.filter((line) => line.includes('graphql request failed'))).toEqual([]);
  });

  it('still runs ordinary documents, and answers a request with neither document nor id as before', async () => {
    expect(await post(gatewayOf(), { query: ME })).toMatchObject({ status: 200, data: { me: { id: ADA } } });
    const empty = await post(gatewayOf(), {});
    expect(empty.status).toBe(400);
    expect(empty.errors).toEqual([expect.objectContaining({ message: 'Must provide query string.', extensions: { code: 'BAD_REQUEST' } })]);
  });
});

describe('automatic persisted queries: sharing, bounds and the rest of the pipeline', () => {
  it('keeps the document in Redis under the key prefix, hash-tagged, with the TTL, where every instance finds it', async () => {
    const query = fresh('shared');
    const hash = sha256(query);
    await post(redis, { query, extensions: persisted(hash) });
    const key = `${h.env.REDIS_KEY_PREFIX}apq:{${hash}}`;
    const client = redisOf(redis);
    expect(await client.get(key)).toBe(query);
    const ttl = await client.pttl(key);
    expect(ttl).toBeGreaterThan(3_590_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    expect(await redisPeer.gateway.store.get(storeKey(hash))).toBe(query);
    expect(await post(redisPeer, { extensions: persisted(hash) })).toMatchObject({ data: { me: { id: ADA } } });
    // The in-memory gateway shares nothing with them.
    expectNotFound(await post(memory, { extensions: persisted(hash) }));
  });

  it('runs a document over PERSISTED_QUERY_MAX_BYTES but does not register it', async () => {
    const query = `query Me { me { id } } # ${'x'.repeat(100)}`;
    const hash = sha256(query);
    expect(await post(small, { query, extensions: persisted(hash) })).toMatchObject({ status: 200, data: { me: { id: ADA } } });
    expect(await redisOf(small).exists(`${h.env.REDIS_KEY_PREFIX}apq:{${hash}}`)).toBe(0);
    expectNotFound(await post(small, { extensions: persisted(hash) }));
    // Under the limit, the same gateway registers.
    const short = `${ME} #${Math.random().toString(36).slice(2, 8)}`;
    await post(small, { query: short, extensions: persisted(sha256(short)) });
    expect(await post(small, { extensions: persisted(sha256(short)) })).toMatchObject({ data: { me: { id: ADA } } });
  });

  it('authenticates the caller before looking anything up: no token is 401 and the store is not read', async () => {
    const store = redis.gateway.store;
    const original = store.get.bind(store);
    let reads = 0;
    store.get = (key) => {
      reads += 1;
      return original(key);
    };
    try {
      const answer = await post(redis, { extensions: persisted(sha256(ME)) }, null);
      expect(answer.status).toBe(401);
      expect(errorCodes(answer)).toEqual(['UNAUTHENTICATED']);
      expect(reads).toBe(0);
      const fine = await post(redis, { extensions: persisted(sha256(fresh('reads'))) });
      expectNotFound(fine);
      expect(reads).toBe(1);
    } finally {
      store.get = original;
    }
  });

  it('applies the document limits and the upstream budget to a persisted document', async () => {
    // Registered where the limits allow it; the other instances share the store.
    const long = `query Long { me { id google { connection } } } # ${Math.random()}`;
    await post(redis, { query: long, extensions: persisted(sha256(long)) });
    const refused = await post(tight, { extensions: persisted(sha256(long)) });
    expect(refused.status).toBe(400);
    expect(errorCodes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors?.[0]?.message).toBe('Token limit of 8 exceeded.');

    const expensive = `${EXPENSIVE} # ${Math.random()}`;
    await post(redis, { query: expensive, extensions: persisted(sha256(expensive)) });
    const before = { management: managementCalls(), google: h.sandbox.google.requests.length };
    const answer = await post(frugal, { extensions: persisted(sha256(expensive)) });
    expect(answer.status).toBe(400);
    expect(answer.errors).toEqual([expect.objectContaining({ extensions: { code: 'QUERY_TOO_EXPENSIVE', cost: 2, limit: 1 } })]);
    expect({ management: managementCalls(), google: h.sandbox.google.requests.length }).toEqual(before);
  });
});

describe('TRUSTED_DOCUMENTS', () => {
  const meHash = sha256(ME);

  it('runs a manifest operation by extensions.persistedQuery.sha256Hash, over POST and GET', async () => {
    expect(await post(trusted, { extensions: persisted(meHash) })).toMatchObject({ status: 200, data: { me: { id: ADA } } });
    expect(await get(trusted, { extensions: persisted(meHash) })).toMatchObject({ status: 200, data: { me: { id: ADA } } });
  });

  it('runs a manifest operation by documentId: sha256:<hash>, the bare hash, or a custom id', async () => {
    for (const documentId of [`sha256:${meHash}`, meHash]) {
      expect(await post(trusted, { documentId })).toMatchObject({ status: 200, data: { me: { id: ADA } } });
    }
    const byCustomId = await post(trusted, { documentId: TRUSTED_USER_ID, variables: { id: ADA } }, admin);
    expect(byCustomId).toMatchObject({ status: 200, data: { user: { id: ADA } } });
    const overGet = await get(trusted, { documentId: TRUSTED_USER_ID, variables: { id: ADA } }, admin);
    expect(overGet).toMatchObject({ status: 200, data: { user: { id: ADA } } });
  });

  it('refuses any document text with PERSISTED_QUERY_ID_REQUIRED, even the text of a manifest operation, calling nothing', async () => {
    const before = managementCalls();
    const introspection = '{ __schema { queryType { name } } }';
    for (const body of [{ query: ME }, { query: introspection }, { query: ME, extensions: persisted(meHash) }, {}]) {
      const answer = await post(trusted, body);
      expect(answer.status).toBe(400);
      expect(answer.data).toBeUndefined();
      expect(errorCodes(answer)).toEqual(['PERSISTED_QUERY_ID_REQUIRED']);
      expect(answer.errors?.[0]?.message).toContain('TRUSTED_DOCUMENTS');
    }
    const overGet = await get(trusted, { query: ME });
    expect(errorCodes(overGet)).toEqual(['PERSISTED_QUERY_ID_REQUIRED']);
    expect(managementCalls()).toBe(before);
  });

  it('never registers: a document with its hash is refused and not stored, and its hash stays unknown', async () => {
    const query = fresh('trusted-register');
    const hash = sha256(query);
    expect(errorCodes(await post(trusted, { query, extensions: persisted(hash) }))).toEqual(['PERSISTED_QUERY_ID_REQUIRED']);
    expect(await trusted.gateway.store.get(storeKey(hash))).toBeNull();
    // Not even what APQ registered in the same store runs here.
    await post(redis, { query, extensions: persisted(hash) });
    const answer = await post(trusted, { extensions: persisted(hash) });
    expect(answer.status).toBe(404);
    expect(errorCodes(answer)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
  });

  it('answers an unknown id with 404 PERSISTED_QUERY_NOT_IN_LIST, which Apollo clients do not retry with the text', async () => {
    for (const body of [{ documentId: 'no-such-operation' }, { extensions: persisted(sha256('{ me { name } }')) }]) {
      const answer = await post(trusted, body);
      expect(answer.status).toBe(404);
      expect(errorCodes(answer)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
      expect(answer.errors?.[0]?.message).not.toBe('PersistedQueryNotFound');
    }
  });

  it('warns at start when GRAPHIQL is on too, since every document GraphiQL sends is refused', async () => {
    const warned = (gateway: RunningGateway) => gateway.logs.some((line) => line.includes('"event":"graphiql_with_trusted_documents"'));
    const withGraphiQL = await h.startGateway({ TRUSTED_DOCUMENTS: manifest, GRAPHIQL: 'true' });
    expect(warned(withGraphiQL)).toBe(true);
    expect(warned(trusted)).toBe(false);
  });

  it('still authenticates the caller first', async () => {
    const answer = await post(trusted, { extensions: persisted(meHash) }, null);
    expect(answer.status).toBe(401);
    expect(errorCodes(answer)).toEqual(['UNAUTHENTICATED']);
  });
});

describe.skipIf(!clusterAvailable())('automatic persisted queries on a Redis Cluster', () => {
  let cluster: Harness;
  let first: RunningGateway;
  let second: RunningGateway;
  let caller: string;

  beforeAll(async () => {
    cluster = await startHarness({ redis: 'cluster' });
    first = cluster.main;
    second = await cluster.startGateway();
    caller = await cluster.token(ADA);
  });
  afterAll(async () => {
    const client = (first?.gateway.store as RedisClusterStore | undefined)?.client;
    if (client) {
      for (const master of client.nodes('master')) {
        const keys = await master.keys(`${cluster.env.REDIS_KEY_PREFIX}*`);
        await Promise.all(keys.map((key) => master.del(key)));
      }
    }
    await cluster?.close();
  });

  it("registers through one instance into the hash's own slot, and runs on another", async () => {
    const query = fresh('cluster');
    const hash = sha256(query);
    expectNotFound(await post(second, { extensions: persisted(hash) }, caller));
    expect(await post(first, { query, extensions: persisted(hash) }, caller)).toMatchObject({ data: { me: { id: ADA } } });
    const key = `${cluster.env.REDIS_KEY_PREFIX}apq:{${hash}}`;
    expect(hashSlot(key)).toBe(hashSlot(hash));
    expect(await (first.gateway.store as RedisClusterStore).client.get(key)).toBe(query);
    expect(await post(second, { extensions: persisted(hash) }, caller)).toMatchObject({ status: 200, data: { me: { id: ADA } } });
  });
});
