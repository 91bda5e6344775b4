import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.js';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from '../http/upstream.js';
import type { RefreshEndpoint } from './policy.js';
import { sendRefreshGrant } from './refresh-grant.js';

// How a refresh grant's answer is read: a new token only from a 200 with `access_token` and no
// `error` (GitHub refuses with HTTP 200), a dead grant from the grant errors (RFC 6749
// `invalid_grant`, GitHub's `bad_refresh_token`), the gateway's configuration from the client errors
// (`invalid_client`, GitHub's `incorrect_client_credentials`), in JSON or form-encoded.

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
});
