import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config.js';
import { createGateway, type Gateway } from '../src/gateway.js';
import { createLogger } from '../src/logger.js';
import { SEED_USERS, startSandbox, type Sandbox } from '../sandbox/index.js';

/**
 * `npm run probe:hostile`: sends hostile inputs (multi-megabyte alias documents without a token,
 * alias floods of provider fields and user batches, a 5,000-level nesting, an `Origin: null`
 * request, the GraphiQL page) to a gateway on the sandbox, configured as `npm start` is by default
 * (plus the demo's GraphiQL), and prints a Markdown table: what was sent, what the gateway
 * answered, how long it took, and how many upstream calls (at every simulated upstream) it cost.
 * Loopback only; every probe is bounded.
 */

interface Row {
  probe: string;
  answer: string;
  ms: number;
  upstream: number;
}

const sandbox = await startSandbox();
const rows: Row[] = [];
const strict = await start({ GRAPHIQL: 'true' });
const loose = await start({ MAX_ALIASES: '100000', MAX_TOKENS: '1000000' });
const user = await sandbox.tenant.issueAccessToken({ sub: SEED_USERS.ada, scope: 'openid' });
const other = await sandbox.tenant.issueAccessToken({ sub: SEED_USERS.grace, scope: 'openid' });
const partner = await sandbox.tenant.issueAccessToken({ sub: 'probe@clients', scope: 'read:users read:user_idp_tokens' });

const aliases = (count: number, field: (index: number) => string) => Array.from({ length: count }, (_, i) => `a${i}: ${field(i)}`).join(' ');
const bomb = Buffer.from(JSON.stringify({ query: `{${aliases(1_500_000, () => 'me{id}')}}` }));
const calendar = `{ me { google { ${aliases(500, (i) => `calendarEvents(first: 1, timeMin: "2026-01-01T00:00:00.${String(i).padStart(3, '0')}Z") { edges { cursor } }`)} } } }`;
const passthrough = `{ me { identities { ... on OAuth2Identity { ${aliases(2000, (i) => `request(path: "/items", query: { page: ${i} })`)} } } } }`;
const unknown = (prefix: string) => Array.from({ length: 100 }, (_, i) => `auth0|${prefix}-${i}`);

// Warm-up outside the table: each gateway fetches the tenant's signing keys once and compiles its hot paths.
for (const target of [strict, loose]) {
  await graphql(target, user, '{ __typename }');
  await raw(target, Buffer.from('{}'));
}

for (let i = 1; i <= 4; i++) {
  await probe(`${(bomb.length / 1e6).toFixed(0)} MB alias document, no token (${i} of 4)`, () => raw(strict, bomb));
}
await probe('`{ me { idd } }`, no token', () => graphql(strict, undefined, '{ me { idd } }'));
await probe('`{ me { idd } }`, user token', () => graphql(strict, user, '{ me { idd } }'));
await probe(`${(bomb.length / 1e6).toFixed(0)} MB document, user token`, () => raw(strict, bomb, user));
await probe('500 aliases of calendarEvents, distinct arguments', () => graphql(strict, user, calendar));
await probe('the same, alias and token limits lifted', () => graphql(loose, user, calendar));
await probe('2,000 aliases of OAuth2Identity.request', () => graphql(strict, user, passthrough));
await probe('the same, alias and token limits lifted', () => graphql(loose, user, passthrough));
await probe('3 aliases of users(ids:) × 100 unknown ids, partner', () =>
  graphql(strict, partner, 'query ($a: [ID!]!, $b: [ID!]!, $c: [ID!]!) { a: users(ids: $a) { id } b: users(ids: $b) { id } c: users(ids: $c) { id } }', {
    a: unknown('a'),
    b: unknown('b'),
    c: unknown('c'),
  }),
);
await fairness();
await probe('the same 100 unknown ids again at once', () =>
  graphql(strict, partner, 'query ($ids: [ID!]!) { users(ids: $ids) { id } }', { ids: unknown('cold') }),
);
await probe('query nested 5,000 levels', () => graphql(strict, user, `{ ${'me { '.repeat(5000)}id${' }'.repeat(5000)} }`));
await probe('`Origin: null` preflight and request (CORS_ORIGINS unset)', async () => {
  const preflight = await fetch(strict.url, { method: 'OPTIONS', headers: { origin: 'null', 'access-control-request-method': 'POST' } });
  const answer = await fetch(strict.url, {
    method: 'POST',
    headers: { origin: 'null', 'content-type': 'application/json', authorization: `Bearer ${user}` },
    body: '{"query":"{me{id}}"}',
  });
  const granted = [preflight, answer].some((response) => response.headers.has('access-control-allow-origin'));
  return `${preflight.status} / ${answer.status}, ${granted ? 'GRANTED' : 'no Access-Control-Allow-Origin'}`;
});
await probe('GraphiQL page (GRAPHIQL=true)', async () => {
  const response = await fetch(strict.url, { headers: { accept: 'text/html' } });
  const csp = response.headers.get('content-security-policy') ?? '';
  await response.arrayBuffer();
  return `${response.status}, CSP \`${csp.split(';')[0]}\`, ${/https?:/.test(csp) ? 'a host in the CSP' : 'no host in the CSP'}`;
});

console.log('\n| hostile input | answer | time | upstream calls |\n| --- | --- | --- | --- |');
for (const row of rows) console.log(`| ${row.probe} | ${row.answer} | ${row.ms < 10 ? row.ms.toFixed(1) : row.ms.toFixed(0)} ms | ${row.upstream} |`);
await Promise.all([strict, loose].map((running) => running.gateway.close()));
await sandbox.close();

/** Starts a gateway on the sandbox with `npm start`'s defaults plus `env`. */
async function start(env: Record<string, string>): Promise<{ gateway: Gateway; url: string }> {
  const config = loadConfig({ ...sandbox.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  const gateway = createGateway(config, { logger: createLogger('silent') });
  await new Promise<void>((resolve) => gateway.server.listen(0, '127.0.0.1', resolve));
  return { gateway, url: `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}/graphql` };
}

/** Calls at every simulated upstream so far. */
function upstreamCalls(s: Sandbox = sandbox): number {
  return [s.tenant, s.google, s.facebook, s.bitbucket, s.oauth2].reduce((sum, fake) => sum + fake.requests.length, 0);
}

async function probe(name: string, send: () => Promise<string>): Promise<void> {
  const before = upstreamCalls();
  const started = performance.now();
  const answer = await send();
  rows.push({ probe: name, answer, ms: performance.now() - started, upstream: upstreamCalls() - before });
}

async function graphql(target: { url: string }, token: string | undefined, query: string, variables?: Record<string, unknown>): Promise<string> {
  const response = await fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return describe(response.status, await response.text());
}

/** Sends a prepared body with node:http, so the time is the gateway's, not the client's encoding. */
function raw(target: { url: string }, body: Buffer, token?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(body.length), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    req.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(describe(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A partner's cold batch of 100 unknown ids, and another user's `me` 300 ms into it. */
async function fairness(): Promise<void> {
  const before = upstreamCalls();
  const started = performance.now();
  const batch = graphql(strict, partner, 'query ($ids: [ID!]!) { users(ids: $ids) { id } }', { ids: unknown('cold') }).then((answer) => ({
    answer,
    ms: performance.now() - started,
  }));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const meStarted = performance.now();
  const me = await graphql(strict, other, '{ me { id } }');
  const meMs = performance.now() - meStarted;
  const done = await batch;
  rows.push({ probe: 'users(ids:) × 100 unknown ids, partner, cold', answer: done.answer, ms: done.ms, upstream: upstreamCalls() - before });
  rows.push({ probe: "another user's uncached `me`, sent 300 ms into that batch", answer: me, ms: meMs, upstream: 1 });
}

function describe(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { data?: unknown; errors?: { message: string; extensions?: Record<string, unknown> }[] };
    const error = body.errors?.[0];
    if (!error) return `${status}, data`;
    const { code, cost, limit } = error.extensions ?? {};
    const extra = typeof cost === 'number' ? ` (cost ${cost}, limit ${typeof limit === 'number' ? limit : '?'})` : '';
    return `${status} ${typeof code === 'string' ? code : ''}${extra}: ${error.message.slice(0, 70)}${body.data ? ', with data' : ''}`;
  } catch {
    return `${status}, ${text.length} bytes`;
  }
}
