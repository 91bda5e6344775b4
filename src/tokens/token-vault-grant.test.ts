import { describe, expect, it } from 'vitest';
import { ConfigurationError, ProviderRateLimitedError, UpstreamUnavailableError } from '../errors.js';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from '../http/upstream.js';
import { FEDERATED_TOKEN_TYPE, SUBJECT_TOKEN_TYPE, TOKEN_VAULT_GRANT_TYPE, exchangeForm, readExchangeAnswer, sendVaultExchange } from './token-vault-grant.js';

// Auth0 Token Vault's access-token exchange: the form it sends and how each answer reads. A refusal
// about the user's connected account sends the user round (REAUTHENTICATION_REQUIRED); one about the
// gateway's own client is its configuration; limits and failures are never a reconnect prompt. A token
// is taken only from a 200, and an expiry only when Auth0 gives a usable number (never one that would
// keep the token cached forever).

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => ({ status, body, headers });

describe('exchangeForm', () => {
  const request = { origin: 'https://t', clientId: 'cid', clientSecret: 'sec', subjectToken: 'caller.jwt.sig', connection: 'google-oauth2' };

  it('sends the documented grant with the caller token as an access-token subject', () => {
    const form = Object.fromEntries(exchangeForm({ ...request, loginHint: '1234' }));
    expect(form).toEqual({
      grant_type: TOKEN_VAULT_GRANT_TYPE,
      client_id: 'cid',
      client_secret: 'sec',
      subject_token: 'caller.jwt.sig',
      subject_token_type: SUBJECT_TOKEN_TYPE,
      requested_token_type: FEDERATED_TOKEN_TYPE,
      connection: 'google-oauth2',
      login_hint: '1234',
    });
    expect(TOKEN_VAULT_GRANT_TYPE).toBe('urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token');
    expect(SUBJECT_TOKEN_TYPE).toBe('urn:ietf:params:oauth:token-type:access_token');
    expect(FEDERATED_TOKEN_TYPE).toBe('http://auth0.com/oauth/token-type/federated-connection-access-token');
  });

  it('leaves login_hint out when there is none', () => {
    expect(exchangeForm(request).has('login_hint')).toBe(false);
  });
});

describe('sendVaultExchange', () => {
  it("posts the exchange form-encoded to the tenant's /oauth/token and asks for JSON", async () => {
    const sent: UpstreamRequest[] = [];
    const http = {
      send: (request: UpstreamRequest): Promise<UpstreamResponse> => {
        sent.push(request);
        return Promise.resolve({ status: 200, headers: {}, body: { access_token: 'ya29.a' }, durationMs: 5, attempts: 1 });
      },
    } as unknown as UpstreamClient;
    const request = { origin: 'https://tenant.example', clientId: 'cid', clientSecret: 'sec', subjectToken: 'caller.jwt.sig', connection: 'google-oauth2' };
    expect(await sendVaultExchange(http, request)).toEqual({ kind: 'issued', accessToken: 'ya29.a', expiresAt: null });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toEqual({
      method: 'POST',
      url: 'https://tenant.example/oauth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: exchangeForm(request).toString(),
      idempotent: true,
    });
  });
});

describe('readExchangeAnswer', () => {
  it('reads expires_at as epoch seconds and expires_in as seconds from now', () => {
    expect(readExchangeAnswer(answer(200, { access_token: 'ya29.a', expires_at: NOW / 1000 + 600 }), NOW)).toEqual({
      kind: 'issued',
      accessToken: 'ya29.a',
      expiresAt: NOW + 600_000,
    });
    expect(readExchangeAnswer(answer(200, { access_token: 'ya29.a', expires_in: 1377 }), NOW)).toEqual({
      kind: 'issued',
      accessToken: 'ya29.a',
      expiresAt: NOW + 1_377_000,
    });
    expect(readExchangeAnswer(answer(200, { access_token: 'ya29.a' }), NOW)).toEqual({ kind: 'issued', accessToken: 'ya29.a', expiresAt: null });
  });

  it.each(['federated_connection_refresh_token_not_found', 'federated_connection_refresh_token_flow_failed', 'invalid_grant'])(
    '%s is a refusal, whatever the status',
    (error) => {
      for (const status of [400, 401, 403]) expect(readExchangeAnswer(answer(status, { error }))).toEqual({ kind: 'refused', error });
    },
  );

  it('any other 401 or 403 is a refusal too', () => {
    expect(readExchangeAnswer(answer(401, { error: 'access_denied', error_description: 'Unauthorized' }))).toEqual({ kind: 'refused', error: 'access_denied' });
    expect(readExchangeAnswer(answer(403, 'Forbidden'))).toEqual({ kind: 'refused', error: 'http_403' });
  });

  it.each(['invalid_client', 'unauthorized_client', 'unsupported_grant_type'])('%s is CONFIGURATION_ERROR, never a refusal', (error) => {
    for (const status of [400, 401, 403]) {
      const read = () => readExchangeAnswer(answer(status, { error }));
      expect(read).toThrow(ConfigurationError);
      expect(read).toThrow(/TOKEN_VAULT_CLIENT_ID/);
    }
  });

  it('429 is PROVIDER_RATE_LIMITED for auth0 with its Retry-After', () => {
    const read = () => readExchangeAnswer(answer(429, { error: 'too_many_requests' }, { 'retry-after': '7' }));
    expect(read).toThrow(ProviderRateLimitedError);
    try {
      read();
    } catch (error) {
      expect((error as ProviderRateLimitedError).extensions).toMatchObject({ provider: 'auth0', retryAfter: 7 });
    }
  });

  it('5xx, a 400 of another kind and a 200 without a token are UPSTREAM_UNAVAILABLE', () => {
    expect(() => readExchangeAnswer(answer(503, 'down'))).toThrow(UpstreamUnavailableError);
    expect(() => readExchangeAnswer(answer(400, { error: 'invalid_request' }))).toThrow(UpstreamUnavailableError);
    expect(() => readExchangeAnswer(answer(200, { token_type: 'Bearer' }))).toThrow(UpstreamUnavailableError);
  });

  it('never quotes what Auth0 says beyond a plain error code', () => {
    const echoed = 'eyJhbGciOiJSUzI1NiJ9.secret-subject-token.sig';
    expect(() => readExchangeAnswer(answer(500, { error: echoed }))).toThrow(/HTTP 500$/);
    expect(readExchangeAnswer(answer(401, { error: `${echoed} ${echoed}`, error_description: echoed }))).toEqual({ kind: 'refused', error: 'http_401' });
  });

  it('takes a token only from a 200, never from an error answer that carries one', () => {
    expect(readExchangeAnswer(answer(401, { access_token: 'ya29.a' }))).toEqual({ kind: 'refused', error: 'http_401' });
    expect(() => readExchangeAnswer(answer(500, { access_token: 'ya29.a' }))).toThrow(UpstreamUnavailableError);
    expect(() => readExchangeAnswer(answer(201, { access_token: 'ya29.a' }))).toThrow(UpstreamUnavailableError);
  });

  it('says a 200 without a token is Auth0 answering without one', () => {
    const read = () => readExchangeAnswer(answer(200, { token_type: 'Bearer' }));
    expect(read).toThrow('auth0 is unavailable: the Token Vault exchange answered without an access token');
    try {
      read();
    } catch (error) {
      expect((error as UpstreamUnavailableError).extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', provider: 'auth0' });
    }
  });

  it("names the status and Auth0's plain error code of an unexpected answer", () => {
    expect(() => readExchangeAnswer(answer(400, { error: 'invalid_request' }))).toThrow(
      'auth0 is unavailable: the Token Vault exchange answered HTTP 400 (invalid_request)',
    );
  });

  it('reads an expires_at of zero, below zero or beyond any number as no expiry, falling back to expires_in', () => {
    // 1e400 is valid JSON that parses to Infinity: a token cached for ever.
    for (const expiresAt of ['0', '-1', '1e400']) {
      const withIn = JSON.parse(`{"access_token":"ya29.a","expires_at":${expiresAt},"expires_in":600}`) as unknown;
      expect(readExchangeAnswer(answer(200, withIn), NOW)).toEqual({ kind: 'issued', accessToken: 'ya29.a', expiresAt: NOW + 600_000 });
      const alone = JSON.parse(`{"access_token":"ya29.a","expires_at":${expiresAt}}`) as unknown;
      expect(readExchangeAnswer(answer(200, alone), NOW)).toEqual({ kind: 'issued', accessToken: 'ya29.a', expiresAt: null });
    }
  });

  it('reads an expires_in that is null, not a number or beyond any number as no expiry', () => {
    for (const expiresIn of ['null', '"soon"', '1e400']) {
      const body = JSON.parse(`{"access_token":"ya29.a","expires_in":${expiresIn}}`) as unknown;
      expect(readExchangeAnswer(answer(200, body), NOW)).toEqual({ kind: 'issued', accessToken: 'ya29.a', expiresAt: null });
    }
  });
});
