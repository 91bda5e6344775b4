import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config.js';
import { createGateway } from '../src/gateway.js';
import { createLogger } from '../src/logger.js';
import { SEED_USERS, startSandbox } from '../sandbox/index.js';

/**
 * `npm run bench`: the gateway side by side with a baseline in the same run, reporting a ratio.
 * Baseline: what a hand-written proxy does per request, one GET /api/v2/users/{id} to the same
 * simulated tenant. Gateway: `{ me { id email identities { provider } } }` with a verified caller
 * token, the per-request context and the shared user cache. Loopback only, bounded in time.
 * Options: BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 10).
 */
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);

const sandbox = await startSandbox();
const config = loadConfig({
  ...sandbox.env,
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  AUTH0_MAX_REQUESTS_PER_SECOND: '100000',
  AUTH0_MAX_CONCURRENCY: '64',
});
const gateway = createGateway(config, { logger: createLogger('warn') });
await new Promise<void>((resolve) => gateway.server.listen(0, '127.0.0.1', resolve));
const gatewayUrl = `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}/graphql`;

const callerToken = await sandbox.tenant.issueAccessToken({ sub: SEED_USERS.ada, scope: 'openid' });
const managementToken = await fetch(`${sandbox.tenant.origin}/oauth/token`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    grant_type: 'client_credentials',
    client_id: sandbox.tenant.clientId,
    client_secret: sandbox.tenant.clientSecret,
    audience: `${sandbox.tenant.origin}/api/v2/`,
  }),
}).then(async (response) => ((await response.json()) as { access_token: string }).access_token);

async function measure(title: string, options: autocannon.Options) {
  const result = await autocannon({ connections, duration: seconds, ...options });
  const line = {
    title,
    requestsPerSecond: Math.round(result.requests.average),
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
  console.log(JSON.stringify(line));
  return line;
}

const baseline = await measure('baseline: GET /api/v2/users/{id} on the simulated tenant', {
  url: `${sandbox.tenant.origin}/api/v2/users/${encodeURIComponent(SEED_USERS.ada)}`,
  headers: { authorization: `Bearer ${managementToken}` },
});
const readsBefore = sandbox.tenant.count('getUser') + sandbox.tenant.count('searchUsers');
const viaGateway = await measure('gateway: { me { id email identities { provider } } }', {
  url: gatewayUrl,
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${callerToken}` },
  body: JSON.stringify({ query: '{ me { id email identities { provider } } }' }),
});
console.log(
  `ratio gateway/baseline throughput: ${(viaGateway.requestsPerSecond / baseline.requestsPerSecond).toFixed(2)} ` +
    `(${viaGateway.requestsPerSecond} vs ${baseline.requestsPerSecond} req/s, ${connections} connections, ${seconds} s each); ` +
    `Management API reads during the gateway run: ${sandbox.tenant.count('getUser') + sandbox.tenant.count('searchUsers') - readsBefore}`,
);

await gateway.close();
await sandbox.close();
