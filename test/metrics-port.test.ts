import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { startHarness, type Harness } from './helpers/harness.js';

// METRICS_PORT moves /metrics to a listener of its own, so operators can keep it off
// the public port. The gateway builds that listener; `npm start` listens on METRICS_PORT, the test
// on a free port.

let h: Harness;
let metricsOrigin: string;
let origin: string;

beforeAll(async () => {
  h = await startHarness({ redis: false, env: { METRICS_PORT: '9464' } });
  const metricsServer = h.main.gateway.metricsServer!;
  await new Promise<void>((resolve) => metricsServer.listen(0, '127.0.0.1', resolve));
  metricsOrigin = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}`;
  origin = new URL(h.main.url).origin;
});
afterAll(async () => h?.close());

describe('METRICS_PORT', () => {
  it('serves /metrics on its own listener, counting what the public port served', async () => {
    const answer = await h.query(await h.token(SEED_USERS.ada), '{ me { id } }');
    expect(answer.data).toEqual({ me: { id: SEED_USERS.ada } });
    const response = await fetch(`${metricsOrigin}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toContain('idpgw_upstream_requests_total{upstream="auth0"');
  });

  it('no longer serves /metrics on the public port', async () => {
    const response = await fetch(`${origin}/metrics`);
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain('idpgw_');
  });

  it('serves nothing but GET /metrics on the metrics listener', async () => {
    for (const [method, path] of [
      ['GET', '/graphql'],
      ['GET', '/healthz'],
      ['POST', '/metrics'],
    ] as const) {
      const response = await fetch(`${metricsOrigin}${path}`, { method });
      expect(response.status).toBe(404);
      await response.body?.cancel();
    }
  });

  it('refuses METRICS_PORT equal to PORT in the configuration', async () => {
    const { loadConfig } = await import('../src/config.js');
    expect(() => loadConfig({ ...h.env, PORT: '4000', METRICS_PORT: '4000' })).toThrow(/METRICS_PORT is invalid: must differ from PORT/);
  });
});
