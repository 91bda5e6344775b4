import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { startHarness, type Harness, type RunningGateway } from './helpers/harness.js';

// CORS_ORIGINS (src/plugins/use-cors.ts): unset grants no origin; a list grants exactly its
// origins, with credentials; `*` grants any origin, without credentials. `null` is never echoed.
// Preflights are answered before caller auth (browsers send no Authorization with them), and the
// grant is on every answer to a granted origin, 401s included.

const ADA = SEED_USERS.ada;
const APP = 'https://app.example.com';
const ADMIN = 'https://admin.example.com:8443';
const EVIL = 'https://evil.example';
const QUERY = JSON.stringify({ query: '{ me { id } }' });

let h: Harness;
/** CORS_ORIGINS unset (the `npm start` default). */
let unset: RunningGateway;
/** CORS_ORIGINS=https://app.example.com,https://admin.example.com:8443 */
let listed: RunningGateway;
/** CORS_ORIGINS=* */
let any: RunningGateway;
let token: string;

beforeAll(async () => {
  h = await startHarness({ redis: false });
  unset = h.main;
  listed = await h.startGateway({ CORS_ORIGINS: `${APP}, ${ADMIN}` });
  any = await h.startGateway({ CORS_ORIGINS: '*' });
  token = await h.token(ADA);
});
afterAll(async () => h?.close());

/** A cross-origin POST of a query, with the caller token or (null) without one. */
async function post(gateway: RunningGateway, origin: string | undefined, bearer: string | null = token): Promise<Response> {
  return fetch(gateway.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(origin !== undefined ? { origin } : {}),
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
    body: QUERY,
  });
}

/** A browser's preflight for a JSON POST with a token: no Authorization header of its own. */
async function preflight(gateway: RunningGateway, origin: string, path = '/graphql'): Promise<Response> {
  const response = await fetch(new URL(path, gateway.url), {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });
  await response.body?.cancel();
  return response;
}

/** Every `Access-Control-*` header of a response. */
function corsHeaders(response: Response): Record<string, string> {
  return Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')));
}

function varyFields(response: Response): string[] {
  return (response.headers.get('vary') ?? '')
    .split(',')
    .map((field) => field.trim().toLowerCase())
    .filter(Boolean);
}

async function expectData(response: Response): Promise<void> {
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ data: { me: { id: ADA } } });
}

describe('CORS_ORIGINS unset: no cross-origin grant', () => {
  it('answers a request from another origin without any Access-Control-* header', async () => {
    const response = await post(unset, EVIL);
    expect(corsHeaders(response)).toEqual({});
    // Same-origin and server-side callers are unaffected.
    await expectData(response);
  });

  it('answers its preflight with 204 and no grant', async () => {
    const response = await preflight(unset, EVIL);
    expect(response.status).toBe(204);
    expect(corsHeaders(response)).toEqual({});
  });

  it('grants `null` nothing either', async () => {
    expect(corsHeaders(await post(unset, 'null'))).toEqual({});
    expect(corsHeaders(await preflight(unset, 'null'))).toEqual({});
  });
});

describe('CORS_ORIGINS as a list', () => {
  it('echoes a listed origin exactly, with credentials and Vary: Origin', async () => {
    for (const origin of [APP, ADMIN]) {
      const response = await post(listed, origin);
      expect(response.headers.get('access-control-allow-origin')).toBe(origin);
      expect(response.headers.get('access-control-allow-credentials')).toBe('true');
      expect(varyFields(response)).toContain('origin');
      await expectData(response);
    }
  });

  it("answers a listed origin's preflight without a token: 204, methods, headers, max age", async () => {
    const response = await preflight(listed, APP);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    const methods = (response.headers.get('access-control-allow-methods') ?? '').split(',').map((m) => m.trim());
    expect(methods).toEqual(expect.arrayContaining(['GET', 'POST']));
    const allowed = (response.headers.get('access-control-allow-headers') ?? '').split(',').map((name) => name.trim().toLowerCase());
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'accept', 'x-upstream-stats']));
    expect(Number(response.headers.get('access-control-max-age'))).toBeGreaterThan(0);
    expect(varyFields(response)).toContain('origin');
  });

  it('answers preflights on any path (the operational endpoints too)', async () => {
    const response = await preflight(listed, APP, '/healthz');
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
  });

  it('puts the grant on a 401, so that the browser app can read why', async () => {
    const response = await post(listed, APP, null);
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(varyFields(response)).toContain('origin');
    const body = (await response.json()) as { errors?: { extensions?: { code?: string } }[] };
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('grants an unlisted origin nothing, on requests and preflights, but still varies by Origin', async () => {
    const response = await post(listed, EVIL);
    expect(corsHeaders(response)).toEqual({});
    expect(varyFields(response)).toContain('origin');
    await expectData(response);

    const pre = await preflight(listed, EVIL);
    expect(pre.status).toBe(204);
    expect(corsHeaders(pre)).toEqual({});
    expect(varyFields(pre)).toContain('origin');
  });

  it('grants nothing to near misses of a listed origin', async () => {
    const nearMisses = [
      'http://app.example.com', // another scheme
      'https://app.example.com:444', // another port
      'https://app.example.com.evil.example', // listed origin as a prefix
      'https://evil-app.example.com', // listed host as a suffix
      'https://example.com', // the parent domain
      `${APP}/`, // not an origin serialization
    ];
    for (const origin of nearMisses) {
      expect(corsHeaders(await post(listed, origin)), origin).toEqual({});
      expect(corsHeaders(await preflight(listed, origin)), origin).toEqual({});
    }
  });

  it('never echoes `Origin: null`', async () => {
    const response = await post(listed, 'null');
    expect(corsHeaders(response)).toEqual({});
    const pre = await preflight(listed, 'null');
    expect(pre.status).toBe(204);
    expect(corsHeaders(pre)).toEqual({});
  });

  it('adds nothing but Vary to a request without an Origin (same-origin or server-side)', async () => {
    const response = await post(listed, undefined);
    expect(corsHeaders(response)).toEqual({});
    expect(varyFields(response)).toContain('origin');
    await expectData(response);
  });
});

describe('CORS_ORIGINS=*', () => {
  it('answers any origin with the literal `*` and no credentials', async () => {
    const response = await post(any, EVIL);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    await expectData(response);
  });

  it('answers `Origin: null` with `*`, never by echoing null', async () => {
    const response = await post(any, 'null');
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    const pre = await preflight(any, 'null');
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('answers a preflight without a token: 204, `*`, methods and headers', async () => {
    const response = await preflight(any, EVIL);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(response.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
  });

  it('puts `*` on a 401', async () => {
    const response = await post(any, EVIL, null);
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    await response.body?.cancel();
  });
});

describe('the configuration', () => {
  it('refuses `null` in CORS_ORIGINS', async () => {
    await expect(h.startGateway({ CORS_ORIGINS: `${APP},null` })).rejects.toThrow(/null/);
  });
});
