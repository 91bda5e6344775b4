import { describe, expect, it } from 'vitest';
import { ConfigurationError, UpstreamUnavailableError } from '../errors.js';
import type { UpstreamClient, UpstreamResponse } from '../http/upstream.js';
import { ManagementClient } from './management-client.js';
import type { ManagementTokenProvider } from './management-token.js';
import { logSink } from '../testing/log-sink.js';

// What the gateway asks the Management API, and what it makes of the answers: a search asks for
// exactly the fields it needs; a refused client (401 after one token renewal, or 403) is the
// gateway's misconfiguration, reported as CONFIGURATION_ERROR and logged with Auth0's reason so an
// operator can fix the grant.

/** A tenant that gives every call the same answer, counting the calls and the renewed tokens. */
function tenantAnswering(status: number, body?: unknown) {
  const { lines, logger } = logSink();
  const authorizations: string[] = [];
  let issued = 0;
  const http = {
    accepting: () => true,
    refusal: () => new UpstreamUnavailableError('auth0', 'circuit open'),
    send: (request: { headers: Record<string, string> }) => {
      authorizations.push(request.headers.authorization ?? '');
      return Promise.resolve<UpstreamResponse>({ status, headers: {}, body, durationMs: 1, attempts: 1 });
    },
  } as unknown as UpstreamClient;
  const tokens = {
    token: () => Promise.resolve(`m2m-${issued}`),
    invalidate: () => {
      issued += 1;
      return Promise.resolve();
    },
  } as unknown as ManagementTokenProvider;
  const client = new ManagementClient({
    origin: 'https://acme.eu.auth0.com',
    http,
    tokens,
    maxConcurrency: 1,
    maxRequestsPerSecond: 1000,
    maxRetryWaitMs: 5000,
    logger,
  });
  return { client, lines, authorizations };
}

describe('ManagementClient search path', () => {
  it('asks the v3 search engine for the first page, and only for the listed fields', () => {
    const { client } = tenantAnswering(200, []);
    expect(client.searchPath('email:"ada@example.com"', 50, ['user_id', 'identities'])).toBe(
      '/api/v2/users?q=email%3A%22ada%40example.com%22&search_engine=v3&per_page=50&page=0&fields=user_id%2Cidentities&include_fields=true',
    );
    expect(client.searchPath('user_id:"auth0|1"', 2)).toBe('/api/v2/users?q=user_id%3A%22auth0%7C1%22&search_engine=v3&per_page=2&page=0');
  });
});

describe('ManagementClient refused by the Management API', () => {
  it('a 403 is a CONFIGURATION_ERROR naming Auth0’s error code, logged with its description', async () => {
    const { client, lines } = tenantAnswering(403, { errorCode: 'insufficient_scope', message: 'Insufficient scope, expected any of: read:users' });
    const error = await client.getUser('auth0|x').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).message).toBe(
      "The gateway is misconfigured for auth0: the Management API refused the gateway's client (insufficient_scope)",
    );
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        event: 'management_api_refused',
        status: 403,
        errorCode: 'insufficient_scope',
        description: 'Insufficient scope, expected any of: read:users',
        msg: 'the Management API refused the gateway',
      }),
    ]);
  });

  it('a 401 renews the token once, then is a CONFIGURATION_ERROR naming the HTTP status', async () => {
    const { client, lines, authorizations } = tenantAnswering(401);
    const error = await client.searchUsers('email:"ada@example.com"', 10).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).message).toBe("The gateway is misconfigured for auth0: the Management API refused the gateway's client (HTTP 401)");
    expect(authorizations).toEqual(['Bearer m2m-0', 'Bearer m2m-1']);
    expect(lines).toEqual([expect.objectContaining({ event: 'management_api_refused', status: 401 })]);
  });

  it('any other failure is UPSTREAM_UNAVAILABLE, not a misconfiguration', async () => {
    const { client, lines } = tenantAnswering(500);
    const error = await client.getConnectionByName('github').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect((error as Error).message).toBe('auth0 is unavailable: the Management API answered HTTP 500');
    expect(lines).toEqual([]);
  });
});
