import { describe, expect, it } from 'vitest';
import { ConfigurationError, ProviderRateLimitedError, UpstreamUnavailableError } from '../errors.js';
import { FEDERATED_TOKEN_TYPE, SUBJECT_TOKEN_TYPE, TOKEN_VAULT_GRANT_TYPE, exchangeForm, readExchangeAnswer } from './token-vault-grant.js';

// Auth0 Token Vault's access-token exchange: the form it sends and how each answer reads. A refusal
// about the user's connected account sends the user round (REAUTHENTICATION_REQUIRED); one about the
// gateway's own client is its configuration; limits and failures are never a reconnect prompt.

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
});
