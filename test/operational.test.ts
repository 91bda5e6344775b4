import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { runGateway, startHarness, type Harness } from './helpers/harness.js';
import { freeLoopbackPort } from './helpers/ports.js';

// The HTTP surface besides the schema: `/healthz`, `/readyz` (Redis- and tenant-aware) and `/metrics` need no
// caller token; GraphQL is served over POST and GET, GraphiQL to browsers; malformed requests are
// the client's fault (4xx), never the gateway's (5xx), and never take the process down.

const ADA = SEED_USERS.ada;
const GRAPHQL_RESPONSE = 'application/graphql-response+json';

let h: Harness;
let origin: string;

beforeAll(async () => {
  h = await startHarness();
  origin = new URL(h.main.url).origin;
});
afterAll(async () => h?.close());

/** POSTs a raw body to /graphql with a valid caller token. */
async function postRaw(body: string, accept = GRAPHQL_RESPONSE): Promise<{ status: number; contentType: string | null; body: unknown }> {
  const response = await fetch(h.main.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${await h.token(ADA)}` },
    body,
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text: the assertions below show it
  }
  return { status: response.status, contentType: response.headers.get('content-type'), body: parsed };
}

/** The first error message of a GraphQL error response. */
function firstError(body: unknown): string | undefined {
  const errors = (body as { errors?: { message?: unknown }[] } | null)?.errors;
  return typeof errors?.[0]?.message === 'string' ? errors[0].message : undefined;
}

/** The gateway still answers a good query after a bad one. */
async function expectStillServing(): Promise<void> {
  expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  const answer = await h.query(await h.token(ADA), '{ me { id } }');
  expect(answer.status).toBe(200);
  expect(answer.data).toEqual({ me: { id: ADA } });
}

describe('health and readiness', () => {
  it('GET /healthz answers 200 without a token', async () => {
    const response = await fetch(`${origin}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 when Redis answers and the tenant was reached, with each check in the body', async () => {
    const response = await fetch(`${origin}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready', checks: { store: 'ok', tenant: 'ok' } });
  });

  it('becomes ready as it starts, once it has counted the RSA signing keys of the tenant', async () => {
    // Its own gateway, so the key count happens inside this test rather than at the file's start.
    const gateway = await runGateway(h.env);
    try {
      const ready = await fetch(`${new URL(gateway.url).origin}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ checks: { tenant: 'ok' } });
    } finally {
      await gateway.close();
    }
  });

  it('is not ready on a server whose JWKS holds no RSA key (not an Auth0 tenant), and says so', async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const ecOnly = { keys: [{ ...(await exportJWK(publicKey)), kid: 'ec-only', use: 'sig', alg: 'ES256' }] };
    h.sandbox.tenant.injectFault('jwks', { status: 200, body: ecOnly, times: 100 });
    const gateway = await runGateway(h.env);
    try {
      const ready = await fetch(`${new URL(gateway.url).origin}/readyz`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { checks: { tenant: string } };
      expect(body.checks.tenant).toMatch(/holds no RSA signing key/);
    } finally {
      h.sandbox.tenant.clearFaults();
      await gateway.close();
    }
  });

  it('starts with an unreachable Redis: /healthz 200, /readyz 503', async () => {
    const port = await freeLoopbackPort();
    const down = await runGateway({ ...h.env, REDIS_URL: `redis://127.0.0.1:${port}` });
    try {
      const base = new URL(down.url).origin;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const started = Date.now();
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      // The tenant check may still be waiting for the store (it then fetches the token on its own).
      expect(await ready.json()).toMatchObject({ status: 'unavailable', checks: { store: 'redis unavailable' } });
      // Readiness gives up quickly rather than hanging the load balancer's probe.
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await down.close();
    }
  });
});

describe('metrics', () => {
  it('GET /metrics is Prometheus text and counts Auth0 requests after a query', async () => {
    const answer = await h.query(await h.token(ADA), '{ me { id } }');
    expect(answer.data).toEqual({ me: { id: ADA } });
    const response = await fetch(`${origin}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type') ?? '').toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toContain('# TYPE idpgw_upstream_requests_total counter');
    expect(text).toContain('idpgw_upstream_requests_total{upstream="auth0"');
  });
});

describe('GraphQL over HTTP', () => {
  it('shows GraphiQL to a browser GET /graphql without a token (GRAPHIQL=true)', async () => {
    const withGraphiQL = await runGateway({ ...h.env, GRAPHIQL: 'true' });
    try {
      const response = await fetch(withGraphiQL.url, { headers: { accept: 'text/html' } });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type') ?? '').toMatch(/^text\/html/);
      expect(await response.text()).toMatch(/graphiql/i);
    } finally {
      await withGraphiQL.close();
    }
  });

  it('executes GET /graphql?query=… with a token and accept: application/json', async () => {
    const response = await fetch(`${h.main.url}?query=${encodeURIComponent('{me{id}}')}`, {
      headers: { accept: 'application/json', authorization: `Bearer ${await h.token(ADA)}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type') ?? '').toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ data: { me: { id: ADA } } });
  });

  it('answers an unknown path with 404', async () => {
    const response = await fetch(`${origin}/nope`);
    expect(response.status).toBe(404);
    await response.body?.cancel();
  });
});

describe('malformed requests are 4xx, never 5xx', () => {
  // With `accept: application/graphql-response+json` (GraphQL over HTTP), yoga answers request errors
  // (unparsable body, parse and validation errors) with 400 and a GraphQL error body.
  const cases: [string, string, RegExp][] = [
    ['an invalid JSON body', '{"query": ', /invalid JSON/i],
    ['a JSON array of garbage', '[1, "x", null, {"nope": true}]', /batching/i],
    ['a body without a query', '{}', /query/i],
    ['a query that is not a string', '{"query": 42}', /query/i],
    ['a syntax error', JSON.stringify({ query: '{ me {' }), /Syntax Error/],
    ['an unknown field', JSON.stringify({ query: '{ nope }' }), /Cannot query field "nope"/],
    ['a variable of the wrong type', JSON.stringify({ query: 'query ($id: ID!) { user(id: $id) { id } }', variables: { id: { a: 1 } } }), /\$id/],
  ];

  it.each(cases)('answers %s with 400 and an error message', async (_name, body, message) => {
    const answer = await postRaw(body);
    expect(answer.status).toBe(400);
    expect(answer.contentType ?? '').toMatch(/^application\/graphql-response\+json/);
    expect(firstError(answer.body)).toMatch(message);
    await expectStillServing();
  });

  // With plain `accept: application/json` (legacy clients) yoga keeps 200 for parse and validation
  // errors, as the GraphQL-over-HTTP spec allows for that media type; still never a 5xx.
  it.each(cases)('answers %s for an application/json client without a 5xx, with an error message', async (_name, body, message) => {
    const answer = await postRaw(body, 'application/json');
    expect(answer.status).toBeLessThan(500);
    expect(firstError(answer.body)).toMatch(message);
  });

  it('refuses a body that is not JSON (415), with the process still answering', async () => {
    const response = await fetch(h.main.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', accept: GRAPHQL_RESPONSE, authorization: `Bearer ${await h.token(ADA)}` },
      body: 'hello',
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    await response.body?.cancel();
    await expectStillServing();
  });

  it('refuses a mutation sent with GET (405)', async () => {
    const response = await fetch(`${h.main.url}?query=${encodeURIComponent('mutation { x }')}`, {
      headers: { accept: GRAPHQL_RESPONSE, authorization: `Bearer ${await h.token(ADA)}` },
    });
    expect(response.status).toBe(405);
    expect(firstError(await response.json())).toMatch(/mutation/);
  });

  // The schema only reads; use-executable-operations.ts turns other operation kinds into validation errors.
  it('answers a POSTed mutation with a 4xx (the schema has no mutations)', async () => {
    const answer = await postRaw(JSON.stringify({ query: 'mutation { x }' }));
    expect(firstError(answer.body)).toMatch(/mutation/);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
  });

  it('answers a POSTed subscription with a 4xx (the schema has no subscriptions)', async () => {
    const answer = await postRaw(JSON.stringify({ query: 'subscription { x }' }));
    expect(firstError(answer.body)).toMatch(/subscription/);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
  });

  it('never answers a mutation or subscription attempt with a 5xx or data', async () => {
    for (const query of ['mutation { x }', 'subscription { x }']) {
      const answer = await postRaw(JSON.stringify({ query }));
      expect(answer.status).toBeLessThan(500);
      expect((answer.body as { data?: unknown }).data ?? null).toBeNull();
      expect(firstError(answer.body)).toBeDefined();
    }
    await expectStillServing();
  });
});
