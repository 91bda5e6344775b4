import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.js';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from '../http/upstream.js';
import type { RefreshEndpoint } from './policy.js';
import { sendRefreshGrant } from './refresh-grant.js';

// How a refresh grant's answer is read: a new token only from a 200 with `access_token` and no
// `error` (GitHub refuses with HTTP 200), a dead grant from the grant errors (RFC 6749
// `invalid_grant`, GitHub's `bad_refresh_token`), the gateway's configuration from the client errors
// (`invalid_client`, GitHub's `incorrect_client_credentials`), in JSON or form-encoded. Nothing is
// sent without both client credentials; the request is a form (RFC 6749 §6); a 429 is a rate limit
// with the provider's Retry-After in seconds; any other failure is the endpoint's, with its status
// and error code, never a crash on an odd body and never fields read out of text that is not a form.

const ENDPOINT: RefreshEndpoint = {
  tokenUrl: 'https://github.example/login/oauth/access_token',
  clientId: 'Iv23li',
  clientSecret: 'app-secret',
  clientAuth: 'post',
};

/** An HTTP client answering `answer` and remembering what it was sent. */
function answering(status: number, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const sent: UpstreamRequest[] = [];
  const http = {
    send: (request: UpstreamRequest): Promise<UpstreamResponse> => {
      sent.push(request);
      return Promise.resolve({ status, headers, body, durationMs: 5, attempts: 1 });
    },
  } as unknown as UpstreamClient;
  return { http, sent };
}

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error('expected a refusal');
}

describe('sendRefreshGrant', () => {
  it('renews from a JSON answer, rotating the refresh token, credentials in the form body', async () => {
    const { http, sent } = answering(200, {
      access_token: 'ghu_new',
      expires_in: 28800,
      refresh_token: 'ghr_new',
      refresh_token_expires_in: 15811200,
      token_type: 'bearer',
      scope: '',
    });
    expect(await sendRefreshGrant(http, 'github', ENDPOINT, 'ghr_old')).toEqual({
      kind: 'renewed',
      accessToken: 'ghu_new',
      refreshToken: 'ghr_new',
      expiresIn: 28800,
    });
    expect(Object.fromEntries(new URLSearchParams(sent[0]!.body))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'ghr_old',
      client_id: 'Iv23li',
      client_secret: 'app-secret',
    });
    expect(sent[0]!.headers).toMatchObject({ accept: 'application/json' });
    expect(sent[0]!.idempotent).toBe(false);
  });

  it('renews from a form-encoded answer', async () => {
    const { http } = answering(200, 'access_token=ghu_form&expires_in=28800&refresh_token=ghr_form&scope=&token_type=bearer', {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    });
    expect(await sendRefreshGrant(http, 'github', ENDPOINT, 'ghr_old')).toEqual({
      kind: 'renewed',
      accessToken: 'ghu_form',
      refreshToken: 'ghr_form',
      expiresIn: 28800,
    });
  });

  it('reads bad_refresh_token with HTTP 200 as a dead grant, never as success', async () => {
    const body = { error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.', error_uri: 'https://docs.github.com/x' };
    expect(await sendRefreshGrant(answering(200, body).http, 'github', ENDPOINT, 'ghr_old')).toEqual({ kind: 'rejected', error: 'bad_refresh_token' });
    const form = answering(200, 'error=bad_refresh_token&error_description=The+refresh+token+passed+is+incorrect+or+expired.', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(await sendRefreshGrant(form.http, 'github', ENDPOINT, 'ghr_old')).toEqual({ kind: 'rejected', error: 'bad_refresh_token' });
    // Even beside an access token, an error is a refusal.
    const odd = await failure(sendRefreshGrant(answering(200, { access_token: 'ghu_x', error: 'unverified_user_email' }).http, 'github', ENDPOINT, 'ghr_old'));
    expect(odd.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(await sendRefreshGrant(answering(400, { error: 'invalid_grant' }).http, 'google-oauth2', ENDPOINT, 'r')).toEqual({
      kind: 'rejected',
      error: 'invalid_grant',
    });
  });

  it('reads incorrect_client_credentials with HTTP 200 as the gateway misconfigured, never echoing the secret', async () => {
    const body = { error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' };
    const error = await failure(sendRefreshGrant(answering(200, body).http, 'github', ENDPOINT, 'ghr_old'));
    expect(error.extensions).toEqual({ code: 'CONFIGURATION_ERROR', provider: 'github' });
    expect(error.message).not.toContain('app-secret');
    expect((await failure(sendRefreshGrant(answering(401, { error: 'invalid_client' }).http, 'google-oauth2', ENDPOINT, 'r'))).extensions.code).toBe(
      'CONFIGURATION_ERROR',
    );
  });

  it('sends the refresh grant form-encoded, as RFC 6749 requires', async () => {
    const { http, sent } = answering(200, { access_token: 'ya29.new', expires_in: 3599 });
    await sendRefreshGrant(http, 'google-oauth2', ENDPOINT, 'r');
    expect(sent[0]).toMatchObject({ method: 'POST', url: ENDPOINT.tokenUrl });
    expect(sent[0]!.headers).toMatchObject({ 'content-type': 'application/x-www-form-urlencoded' });
  });

  it('refuses to send a grant without both client id and secret, as the gateway misconfigured', async () => {
    for (const endpoint of [
      { ...ENDPOINT, clientId: '', clientSecret: '' },
      { ...ENDPOINT, clientSecret: '' },
      { ...ENDPOINT, clientId: '' },
    ]) {
      const { http, sent } = answering(200, { access_token: 'ghu_new' });
      const error = await failure(sendRefreshGrant(http, 'github', endpoint, 'ghr_old'));
      expect(error.extensions).toEqual({ code: 'CONFIGURATION_ERROR', provider: 'github' });
      expect(error.message).toContain('no client id and secret to refresh tokens with');
      expect(sent).toEqual([]);
    }
  });

  it('renews only from HTTP 200, even when another status carries an access token', async () => {
    const error = await failure(sendRefreshGrant(answering(500, { access_token: 'ya29.stale' }).http, 'google-oauth2', ENDPOINT, 'r'));
    expect(error.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it("reads a 429 as the provider's rate limit, passing on its Retry-After in whole seconds", async () => {
    const limited = (headers: Record<string, string>) => failure(sendRefreshGrant(answering(429, '', headers).http, 'bitbucket', ENDPOINT, 'r'));
    expect((await limited({ 'content-type': 'text/plain', 'retry-after': '30' })).extensions).toEqual({
      code: 'PROVIDER_RATE_LIMITED',
      provider: 'bitbucket',
      retryAfter: 30,
    });
    expect((await limited({ 'content-type': 'text/plain', 'retry-after': '2.5' })).extensions).toMatchObject({ retryAfter: 3 });
    // Without a Retry-After, or with 0, the caller still waits a second rather than retrying at once.
    expect((await limited({ 'content-type': 'text/plain' })).extensions).toMatchObject({ retryAfter: 1 });
    expect((await limited({ 'content-type': 'text/plain', 'retry-after': '0' })).extensions).toMatchObject({ retryAfter: 1 });
  });

  it("reports any other failure as the endpoint unavailable, with its status and the provider's error code", async () => {
    const plain = await failure(sendRefreshGrant(answering(502, '<html>Bad Gateway</html>', { 'content-type': 'text/html' }).http, 'github', ENDPOINT, 'r'));
    expect(plain.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', provider: 'github' });
    expect(plain.message).toBe('github is unavailable: the token endpoint answered HTTP 502');
    const coded = await failure(sendRefreshGrant(answering(503, { error: 'temporarily_unavailable' }).http, 'microsoft', ENDPOINT, 'r'));
    expect(coded.message).toBe('microsoft is unavailable: the token endpoint answered HTTP 503 (temporarily_unavailable)');
  });

  it('reads a JSON null or array answer as the endpoint unavailable, not as a crash', async () => {
    for (const body of [null, [], ['invalid_grant']]) {
      const error = await failure(sendRefreshGrant(answering(502, body).http, 'google-oauth2', ENDPOINT, 'r'));
      expect(error.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    }
  });

  it('reads fields only out of JSON or a form, never out of text that merely looks like one', async () => {
    // A proxy's plain-text page must not declare the grant dead (the refresh token would be dropped)
    // nor hand out a token.
    const refusal = await failure(sendRefreshGrant(answering(400, 'error=invalid_grant', { 'content-type': 'text/plain' }).http, 'github', ENDPOINT, 'r'));
    expect(refusal.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    const token = await failure(sendRefreshGrant(answering(200, 'access_token=ghu_x', { 'content-type': 'text/html' }).http, 'github', ENDPOINT, 'r'));
    expect(token.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    // Without a content type the text is not a form either.
    expect((await failure(sendRefreshGrant(answering(200, 'access_token=ghu_x', {}).http, 'github', ENDPOINT, 'r'))).extensions.code).toBe(
      'UPSTREAM_UNAVAILABLE',
    );
  });
});
