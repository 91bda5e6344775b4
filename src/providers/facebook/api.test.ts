import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GatewayConfig } from '../../config.js';
import { ConfigurationError, UpstreamUnavailableError } from '../../errors.js';
import type { UpstreamResponse } from '../../http/upstream.js';
import type { PolicyDeps } from '../../tokens/policy.js';
import { appSecretProof, facebookApi } from './api.js';

// facebookApi.classify reads the Graph API's error object `{"error":{"message","type","code",
// "error_subcode","fbtrace_id"}}`, which Facebook sends with HTTP 400 whatever went wrong: the
// code, not the status, says what happened (docs/upstream-apis.md#facebook). 190 and 102 mean the
// token is dead (renew → re-authenticate), 4/17/32/613 and 80000–80014 are rate limits, 100 about
// appsecret_proof is the gateway's own setup. An error message quoting a user token (EAA…) must
// lose it before it reaches a caller.

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);
const USER_TOKEN = 'EAAGm0PX4ZCpsBAKZBZBZCvZC7e0Uq3DmRZAy8ZCZBAvT1hdYkZBHZAZCZCZBcM3p2ZAbZBZB5n9ZCZAZBZBy1';

function response(status: number, body: unknown, headers: Record<string, string | undefined> = {}): UpstreamResponse {
  return { status, headers, body, durationMs: 120, attempts: 1 };
}

/** A Graph API error, as Facebook sends it. */
function graphError(code: number, message: string, extra: { type?: string; error_subcode?: number } = {}) {
  return { error: { message, type: extra.type ?? 'OAuthException', code, ...extra, fbtrace_id: 'AbCdEfGhIjKlMnOp' } };
}

const classify = facebookApi.classify;

describe('facebookApi', () => {
  it('names the Auth0 strategy', () => {
    expect(facebookApi.provider).toBe('facebook');
  });
});

describe('facebookApi.classify: dead tokens', () => {
  it('is unauthorized for code 190, with every subcode and without one', () => {
    const cases: [string, number | undefined][] = [
      ['Error validating access token: The user has not authorized application 1234567890.', 458],
      ['Error validating access token: The session has been invalidated because the user changed their password.', 460],
      ['Error validating access token: Session has expired on Tuesday, 01-Jan-30 04:00:00 PST.', 463],
      ['Error validating access token: The user has logged out.', 467],
      ['Invalid OAuth access token data.', undefined],
    ];
    for (const [message, subcode] of cases) {
      const body = graphError(190, message, subcode === undefined ? {} : { error_subcode: subcode });
      expect(classify(response(400, body)), message).toEqual({ kind: 'unauthorized' });
    }
  });

  it('is unauthorized for code 102 (API session), treated like 190', () => {
    expect(classify(response(400, graphError(102, 'Session key invalid or no longer valid')))).toEqual({ kind: 'unauthorized' });
  });

  it('is unauthorized for the code whatever the HTTP status', () => {
    expect(classify(response(401, graphError(190, 'Invalid OAuth access token.')))).toEqual({ kind: 'unauthorized' });
    expect(classify(response(403, graphError(190, 'Invalid OAuth access token.')))).toEqual({ kind: 'unauthorized' });
  });

  it('is unauthorized for a 401 without a Graph error code (proxies, old versions)', () => {
    for (const body of [undefined, '', 'Unauthorized', { error: { message: 'Unauthorized' } }]) {
      expect(classify(response(401, body)), JSON.stringify(body)).toEqual({ kind: 'unauthorized' });
    }
  });
});

describe('facebookApi.classify: rate limits', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is rate_limited for codes 4, 17, 32 and 613, suggesting 60 s', () => {
    for (const [code, message] of [
      [4, '(#4) Application request limit reached'],
      [17, '(#17) User request limit reached'],
      [32, '(#32) Page request limit reached'],
      [613, '(#613) Calls to this api have exceeded the rate limit.'],
    ] as const) {
      expect(classify(response(400, graphError(code, message))), String(code)).toEqual({ kind: 'rate_limited', retryAfter: 60 });
    }
  });

  it('is rate_limited for the business-use-case codes 80000–80014, and only those', () => {
    for (const code of [80000, 80001, 80004, 80006, 80014]) {
      expect(classify(response(400, graphError(code, 'There have been too many calls from this ad-account.'))), String(code)).toEqual({
        kind: 'rate_limited',
        retryAfter: 60,
      });
    }
    for (const code of [79999, 80015]) {
      expect(classify(response(400, graphError(code, 'Something else'))), String(code)).toEqual({ kind: 'unavailable', detail: `HTTP 400 (code ${code})` });
    }
  });

  it('is rate_limited for a plain 429', () => {
    expect(classify(response(429, ''))).toEqual({ kind: 'rate_limited', retryAfter: 60 });
  });

  it('waits the longest estimated_time_to_regain_access of X-Business-Use-Case-Usage (minutes)', () => {
    const usage = JSON.stringify({
      '1234567890': [
        { type: 'ads_management', call_count: 100, total_cputime: 25, total_time: 25, estimated_time_to_regain_access: 19 },
        { type: 'ads_insights', call_count: 98, total_cputime: 10, total_time: 12, estimated_time_to_regain_access: 5 },
      ],
      '9876543210': [{ type: 'pages', call_count: 100, total_cputime: 40, total_time: 40, estimated_time_to_regain_access: 3 }],
    });
    const body = graphError(80004, 'There have been too many calls to this ad-account. Wait a bit and try again.', { error_subcode: 2446079 });
    expect(classify(response(400, body, { 'x-business-use-case-usage': usage }))).toEqual({ kind: 'rate_limited', retryAfter: 19 * 60 });
  });

  it('rounds a fractional regain time up to whole minutes', () => {
    const usage = JSON.stringify({ '1': [{ estimated_time_to_regain_access: 0.5 }] });
    expect(classify(response(400, graphError(4, '(#4) Application request limit reached'), { 'x-business-use-case-usage': usage }))).toEqual({
      kind: 'rate_limited',
      retryAfter: 60,
    });
    const later = JSON.stringify({ '1': [{ estimated_time_to_regain_access: 2.1 }] });
    expect(classify(response(400, graphError(4, '(#4) Application request limit reached'), { 'x-business-use-case-usage': later }))).toEqual({
      kind: 'rate_limited',
      retryAfter: 180,
    });
  });

  it('suggests 60 s when the usage header is absent, zero or unreadable', () => {
    const body = graphError(80000, 'There have been too many calls from this ad-account.');
    for (const header of [
      undefined,
      '',
      'not json',
      'null',
      '[]',
      '{"1":null}',
      '{"1":[null]}',
      '{"1":[{"estimated_time_to_regain_access":0}]}',
      '{"1":[{"call_count":100}]}',
    ]) {
      expect(classify(response(400, body, { 'x-business-use-case-usage': header })), String(header)).toEqual({ kind: 'rate_limited', retryAfter: 60 });
    }
  });

  it('prefers a Retry-After header to the usage header', () => {
    const usage = JSON.stringify({ '1': [{ estimated_time_to_regain_access: 30 }] });
    const body = graphError(17, '(#17) User request limit reached');
    expect(classify(response(400, body, { 'retry-after': '45', 'x-business-use-case-usage': usage }))).toEqual({ kind: 'rate_limited', retryAfter: 45 });
    expect(classify(response(429, '', { 'retry-after': '7' }))).toEqual({ kind: 'rate_limited', retryAfter: 7 });
  });
});

describe('facebookApi.classify: appsecret_proof, bad requests and the rest', () => {
  it('is misconfigured when Facebook refuses the appsecret_proof (code 100), with a detail of our own', () => {
    for (const message of ['Invalid appsecret_proof provided in the API argument', 'API calls from the server require an appsecret_proof argument']) {
      const failure = classify(response(400, graphError(100, message, { type: 'GraphMethodException' })));
      expect(failure.kind, message).toBe('misconfigured');
      expect(failure).toMatchObject({ detail: expect.stringMatching(/appsecret_proof/) });
    }
    expect(classify(response(400, graphError(100, 'Invalid APPSECRET_PROOF')))).toMatchObject({ kind: 'misconfigured' });
  });

  it('is bad_request for another code 100, with Facebook’s message', () => {
    const message = '(#100) Tried accessing nonexisting field (friendz) on node type (User)';
    expect(classify(response(400, graphError(100, message)))).toEqual({ kind: 'bad_request', message });
    expect(classify(response(400, { error: { code: 100 } }))).toEqual({ kind: 'bad_request', message: 'invalid parameter' });
  });

  it('removes a user token that an error message quotes', () => {
    const body = graphError(100, `Invalid parameter: the token ${USER_TOKEN} cannot be used with field picture; also EAAB1234567890abcdef`);
    const failure = classify(response(400, body));
    expect(failure.kind).toBe('bad_request');
    const text = JSON.stringify(failure);
    expect(text).not.toContain(USER_TOKEN);
    expect(text).not.toContain('EAAB1234567890abcdef');
    expect(text).not.toMatch(/EAA[A-Za-z0-9]{10}/);
    expect(failure).toEqual({ kind: 'bad_request', message: 'Invalid parameter: the token [token] cannot be used with field picture; also [token]' });
  });

  it('never passes a quoted user token on, whatever the code', () => {
    const message = `Malformed access token ${USER_TOKEN}`;
    for (const [status, code] of [
      [400, 190],
      [400, 100],
      [400, 4],
      [400, 200],
      [500, 1],
      [500, 2],
      [400, 80001],
      [404, 803],
    ] as const) {
      const failure = classify(response(status, graphError(code, message)));
      expect(JSON.stringify(failure), `${status} code ${code}`).not.toContain(USER_TOKEN);
    }
  });

  it('is not_found for a 404 without a code that says otherwise', () => {
    expect(classify(response(404, ''))).toEqual({ kind: 'not_found' });
    expect(classify(response(404, graphError(803, '(#803) Some of the aliases you requested do not exist: nosuchuser')))).toEqual({ kind: 'not_found' });
  });

  it('is unavailable for Facebook’s transient and unknown errors, naming the code', () => {
    expect(classify(response(500, graphError(1, 'An unknown error occurred')))).toEqual({ kind: 'unavailable', detail: 'HTTP 500 (code 1)' });
    expect(classify(response(503, graphError(2, 'Service temporarily unavailable')))).toEqual({ kind: 'unavailable', detail: 'HTTP 503 (code 2)' });
    expect(classify(response(500, graphError(100, 'Unsupported get request.')))).toEqual({ kind: 'unavailable', detail: 'HTTP 500 (code 100)' });
    expect(classify(response(502, '<html>Bad Gateway</html>'))).toEqual({ kind: 'unavailable', detail: 'HTTP 502' });
  });

  it('is unavailable for a permission error (code 200), which no renewal fixes', () => {
    expect(classify(response(400, graphError(200, '(#200) Requires user_friends permission')))).toEqual({ kind: 'unavailable', detail: 'HTTP 400 (code 200)' });
  });

  it('reads the code only when it is a number', () => {
    expect(classify(response(400, { error: { code: '190', message: 'Invalid OAuth access token.' } }))).toEqual({ kind: 'unavailable', detail: 'HTTP 400' });
    expect(classify(response(401, { error: { code: '4' } }))).toEqual({ kind: 'unauthorized' });
  });
});

describe('appSecretProof', () => {
  it('is the hex HMAC-SHA256 of the access token, keyed by the app secret', () => {
    const secret = '0123456789abcdef0123456789abcdef';
    const expected = createHmac('sha256', secret).update(USER_TOKEN).digest('hex');
    expect(appSecretProof(secret, USER_TOKEN)).toBe(expected);
    expect(appSecretProof(secret, USER_TOKEN)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keys by the secret, not by the token (the arguments are not interchangeable)', () => {
    expect(appSecretProof('secret', 'token')).toBe(createHmac('sha256', 'secret').update('token').digest('hex'));
    expect(appSecretProof('secret', 'token')).not.toBe(appSecretProof('token', 'secret'));
  });

  it('changes with the secret and with the token, and contains neither', () => {
    const proof = appSecretProof('app-secret-1', USER_TOKEN);
    expect(appSecretProof('app-secret-2', USER_TOKEN)).not.toBe(proof);
    expect(appSecretProof('app-secret-1', `${USER_TOKEN}x`)).not.toBe(proof);
    expect(proof).not.toContain('app-secret-1');
    expect(proof).not.toContain(USER_TOKEN.slice(0, 12));
  });

  it('hashes UTF-8 secrets and tokens as Node does', () => {
    expect(appSecretProof('sécret✓', 'tøken')).toBe(createHmac('sha256', Buffer.from('sécret✓', 'utf8')).update(Buffer.from('tøken', 'utf8')).digest('hex'));
  });
});

describe('facebookApi.sign', () => {
  const sign = facebookApi.sign!;

  function deps(appSecret: string | undefined, connectionOptions: PolicyDeps['connectionOptions']): PolicyDeps {
    return { config: { providers: { facebook: { appSecret } } } as unknown as GatewayConfig, connectionOptions };
  }

  it('adds appsecret_proof from FACEBOOK_APP_SECRET, without reading the connection', async () => {
    const connectionOptions = vi.fn(async () => ({ client_secret: 'from-auth0' }));
    const url = new URL('https://graph.facebook.com/v26.0/me?fields=id,name');
    await sign({ url, accessToken: USER_TOKEN, connection: 'facebook' }, deps('configured-secret', connectionOptions));
    expect(url.searchParams.get('appsecret_proof')).toBe(appSecretProof('configured-secret', USER_TOKEN));
    expect(url.searchParams.get('fields')).toBe('id,name');
    expect(connectionOptions).not.toHaveBeenCalled();
    expect(url.toString()).not.toContain(USER_TOKEN);
  });

  it('falls back to the Auth0 connection’s client_secret', async () => {
    const connectionOptions = vi.fn(async () => ({ client_id: '1234', client_secret: 'from-auth0' }));
    const url = new URL('https://graph.facebook.com/v26.0/me');
    await sign({ url, accessToken: USER_TOKEN, connection: 'facebook-eu' }, deps(undefined, connectionOptions));
    expect(connectionOptions).toHaveBeenCalledWith('facebook-eu');
    expect(url.searchParams.get('appsecret_proof')).toBe(appSecretProof('from-auth0', USER_TOKEN));
  });

  it('sends no proof when no secret is known (no client_secret, or no such connection)', async () => {
    for (const connectionOptions of [
      async () => ({}),
      async () => ({ client_secret: '' }),
      async () => ({ client_secret: 42 }),
      async () => {
        throw new ConfigurationError('facebook', 'no connection named facebook');
      },
    ]) {
      const url = new URL('https://graph.facebook.com/v26.0/me');
      await sign({ url, accessToken: USER_TOKEN, connection: 'facebook' }, deps(undefined, connectionOptions));
      expect(url.searchParams.has('appsecret_proof')).toBe(false);
    }
  });

  it('lets any other failure to read the connection through', async () => {
    const failing = async (): Promise<Record<string, unknown>> => {
      throw new UpstreamUnavailableError('auth0', 'timeout');
    };
    const url = new URL('https://graph.facebook.com/v26.0/me');
    await expect(sign({ url, accessToken: USER_TOKEN, connection: 'facebook' }, deps(undefined, failing))).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(url.searchParams.has('appsecret_proof')).toBe(false);
  });
});

describe('facebookApi.classify: malformed bodies', () => {
  it('classifies a code 100 with a non-string message instead of throwing', () => {
    const failure = facebookApi.classify({ status: 400, headers: {}, body: { error: { code: 100, message: 42 } }, durationMs: 1, attempts: 1 });
    expect(failure).toEqual({ kind: 'bad_request', message: 'invalid parameter' });
  });
});
