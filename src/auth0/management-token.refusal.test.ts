import { describe, expect, it } from 'vitest';
import { ManagementTokenProvider, ManagementTokenRefusedError } from './management-token.js';
import type { GatewayError } from '../errors.js';
import type { UpstreamClient, UpstreamRequest } from '../http/upstream.js';
import { DistributedLock } from '../store/lock.js';
import { MemoryStore } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';
import { logSink } from '../testing/log-sink.js';

// When Auth0 will not give the gateway a Management token, callers get a typed error (a
// CONFIGURATION_ERROR for refused credentials, PROVIDER_RATE_LIMITED, UPSTREAM_UNAVAILABLE) and
// operators get one log line per distinct refusal saying what to fix, never the secret.

const ORIGIN = 'https://tenant.example';
const CLIENT_SECRET = 'client-secret-value';

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A provider whose token endpoint gives the n-th request `answers[n - 1]` (the last one again after that). */
function providerAnswering(answers: Answer[]) {
  const requests: UpstreamRequest[] = [];
  const http = {
    send: async (request: UpstreamRequest) => {
      requests.push(request);
      const answer = answers[Math.min(requests.length, answers.length) - 1]!;
      return { headers: {}, durationMs: 1, attempts: 1, ...answer };
    },
  } as unknown as UpstreamClient;
  const { lines, logger } = logSink();
  const store = new MemoryStore();
  const provider = new ManagementTokenProvider({
    origin: ORIGIN,
    clientId: 'client',
    clientSecret: CLIENT_SECRET,
    http,
    store,
    sealer: Sealer.ephemeral(),
    lock: new DistributedLock(store),
    logger,
  });
  return { provider, requests, lines };
}

const refusals = (lines: Record<string, unknown>[]) => lines.filter((line) => line.event === 'management_token_refused');

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  return promise.then(
    () => expect.fail('expected the token to be refused'),
    (error: unknown) => error as GatewayError,
  );
}

describe('ManagementTokenProvider when Auth0 refuses the credentials', () => {
  it('answers a CONFIGURATION_ERROR for a 401 and logs what to check, once, without the secret', async () => {
    const { provider, requests, lines } = providerAnswering([{ status: 401, body: { error: 'access_denied', error_description: 'Unauthorized' } }]);
    const error = await failure(provider.token());
    expect(error).toBeInstanceOf(ManagementTokenRefusedError);
    expect(error.code).toBe('CONFIGURATION_ERROR');
    expect(error.message).toBe('The gateway is misconfigured for auth0: the Management API client credentials were refused (access_denied)');
    expect((error as ManagementTokenRefusedError).reason).toBe('401 access_denied (check AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET)');
    // A refusal is Auth0's answer, not a store failure: no second attempt, no store warning.
    expect(requests).toHaveLength(1);
    expect(lines.filter((line) => line.event === 'management_token_store_unavailable')).toEqual([]);
    expect(refusals(lines)).toEqual([
      expect.objectContaining({
        level: 50,
        status: 401,
        error: 'access_denied',
        description: 'Unauthorized',
        reason: '401 access_denied (check AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET)',
        msg: 'Auth0 refused the Management API client credentials: 401 access_denied (check AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET)',
      }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(CLIENT_SECRET);
  });

  it('answers a CONFIGURATION_ERROR for a 403 as well, naming the status when Auth0 gives no error code', async () => {
    const { provider } = providerAnswering([{ status: 403, body: {} }]);
    const error = await failure(provider.token());
    expect(error.code).toBe('CONFIGURATION_ERROR');
    expect(error.message).toBe('The gateway is misconfigured for auth0: the Management API client credentials were refused (HTTP 403)');
    expect((error as ManagementTokenRefusedError).reason).toBe('403 refused (authorize the application for the Auth0 Management API)');
  });

  it('logs a refusal once while it repeats, again when the reason changes, and again after a token came in between', async () => {
    const unauthorized = { status: 401, body: { error: 'access_denied', error_description: 'Unauthorized' } };
    const notGranted = { status: 403, body: { error: 'access_denied', error_description: 'Client has not been granted scopes: read:users' } };
    const granted = { status: 200, body: { access_token: 'mgmt-token', expires_in: 86_400 } };
    const { provider, lines } = providerAnswering([unauthorized, unauthorized, unauthorized, notGranted, granted, unauthorized]);
    for (let attempt = 0; attempt < 3; attempt++) await failure(provider.token());
    expect(refusals(lines).map((line) => line.status)).toEqual([401]);
    await failure(provider.token());
    expect(refusals(lines).map((line) => line.status)).toEqual([401, 403]);
    await expect(provider.token()).resolves.toBe('mgmt-token');
    await provider.invalidate('mgmt-token');
    await failure(provider.token());
    expect(refusals(lines).map((line) => line.status)).toEqual([401, 403, 401]);
  });
});

describe('ManagementTokenRefusedError reason', () => {
  const reason = (status: number, oauthError?: string, description?: string) => new ManagementTokenRefusedError(status, oauthError, description).reason;

  it('points at the client id and secret for an unknown client or a wrong secret', () => {
    expect(reason(401, 'access_denied', 'Unauthorized')).toBe('401 access_denied (check AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET)');
    expect(reason(403, 'invalid_client')).toBe('403 invalid_client (check AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET)');
  });

  it('points at the Client Credentials grant for an application that may not use it', () => {
    expect(reason(403, 'unauthorized_client', 'Grant type not allowed')).toBe("403 unauthorized_client (enable the application's Client Credentials grant)");
  });

  it('quotes Auth0 on one line and asks to authorize the application for the Management API', () => {
    expect(reason(403, 'access_denied', 'Client has not\n  been granted\tscopes:  read:users')).toBe(
      '403 access_denied (Auth0 says "Client has not been granted scopes: read:users"; authorize the application for the Auth0 Management API)',
    );
    expect(reason(403, 'access_denied')).toBe('403 access_denied (authorize the application for the Auth0 Management API)');
  });

  it('cuts a long description short', () => {
    expect(reason(403, 'access_denied', 'x'.repeat(500))).toBe(
      `403 access_denied (Auth0 says "${'x'.repeat(200)}"; authorize the application for the Auth0 Management API)`,
    );
  });

  it('points at AUTH0_DOMAIN when the audience is on a custom domain', () => {
    expect(reason(403, 'access_denied', 'Service not enabled within domain: https://login.acme.com/api/v2/')).toBe(
      '403 access_denied (Auth0 says "Service not enabled within domain: https://login.acme.com/api/v2/"; ' +
        "AUTH0_DOMAIN must be the tenant's own domain, not a custom domain)",
    );
  });
});

describe('ManagementTokenProvider when Auth0 does not answer a token', () => {
  it('answers PROVIDER_RATE_LIMITED with Auth0’s Retry-After', async () => {
    const { provider, requests } = providerAnswering([{ status: 429, headers: { 'retry-after': '7' }, body: { error: 'too_many_requests' } }]);
    const error = await failure(provider.token());
    expect(error.code).toBe('PROVIDER_RATE_LIMITED');
    expect(error.extensions).toMatchObject({ provider: 'auth0', retryAfter: 7 });
    expect(requests).toHaveLength(1);
  });

  it('answers UPSTREAM_UNAVAILABLE for a server error', async () => {
    const { provider, requests } = providerAnswering([{ status: 503, body: 'Service Unavailable' }]);
    const error = await failure(provider.token());
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toBe('auth0 is unavailable: the token endpoint answered HTTP 503');
    expect(requests).toHaveLength(1);
  });

  it('answers UPSTREAM_UNAVAILABLE for a 200 without an access token, rather than an empty token', async () => {
    const { provider } = providerAnswering([{ status: 200, body: { expires_in: 86_400 } }]);
    const error = await failure(provider.token());
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toBe('auth0 is unavailable: the token endpoint answered HTTP 200');
  });

  it('takes a token only from a 200, not from an error answer that carries one', async () => {
    const { provider } = providerAnswering([{ status: 502, body: { access_token: 'from-a-proxy-error-page', expires_in: 86_400 } }]);
    const error = await failure(provider.token());
    expect(error.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(error.message).toBe('auth0 is unavailable: the token endpoint answered HTTP 502');
  });
});
