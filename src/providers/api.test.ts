import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.js';
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from '../http/upstream.js';
import { UpstreamBudget } from '../limits/upstream-budget.js';
import type { TokenBroker, TokenSubject } from '../tokens/broker.js';
import type { PolicyDeps } from '../tokens/policy.js';
import { ProviderApi, type ProviderFailure } from './api.js';

// ProviderApi is the one way a field reaches a provider's API. Pinned here, against a recording
// HTTP client and a scripted token broker: only a 2xx answer is an answer (a 3xx is never followed
// and goes to the provider's classify); a token the broker cannot give, at first or on renewal, is
// REAUTHENTICATION_REQUIRED with reason `no_token`; a refusal of the caller's arguments is
// BAD_USER_INPUT naming the provider, with any token the provider echoed replaced by `[redacted]`;
// every call asks for JSON, and only a request with a body says what the body is (JSON unless the
// caller names another type).

const SUBJECT: TokenSubject = {
  key: 'identity\u0000auth0|alice\u0000google-oauth2\u00001234567',
  provider: 'google-oauth2',
  connection: 'google-oauth2',
  readAuth0: async () => undefined,
};

function answer(status: number, body: unknown = {}, headers: Record<string, string | undefined> = {}): UpstreamResponse {
  return { status, headers, body, durationMs: 12, attempts: 1 };
}

/** An HTTP client that records what it was asked to send and answers from a script, in order. */
function recordingHttp(...answers: UpstreamResponse[]): { http: UpstreamClient; sent: UpstreamRequest[] } {
  const sent: UpstreamRequest[] = [];
  const http = {
    send: async (request: UpstreamRequest): Promise<UpstreamResponse> => {
      sent.push(request);
      const next = answers.shift();
      if (!next) throw new Error('no scripted answer left');
      return next;
    },
  } as unknown as UpstreamClient;
  return { http, sent };
}

/** A broker that hands out the given access tokens in order (null: it holds none). */
function scriptedTokens(...tokens: (string | null)[]): TokenBroker {
  return { validAccessToken: async () => (tokens.length > 0 ? tokens.shift() : null) } as unknown as TokenBroker;
}

/** Reads answers the way the real providers do, in the minimum needed here. */
function classify(response: UpstreamResponse): ProviderFailure {
  const body = response.body as { message?: string } | undefined;
  if (response.status === 401) return { kind: 'unauthorized' };
  if (response.status === 400) return { kind: 'bad_request', message: body?.message ?? 'HTTP 400' };
  return { kind: 'unavailable', detail: `HTTP ${response.status}` };
}

function api(http: UpstreamClient, tokens: TokenBroker): ProviderApi {
  return new ProviderApi({ provider: 'google-oauth2', classify, http, tokens, deps: {} as PolicyDeps });
}

function scope() {
  return { upstreamBudget: new UpstreamBudget(10) };
}

async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

describe('ProviderApi answers', () => {
  it('returns the body of a 2xx answer', async () => {
    const { http } = recordingHttp(answer(299, { id: 'file-1' }));
    await expect(api(http, scriptedTokens('at-1')).call(scope(), SUBJECT, 'https://www.googleapis.com/drive/v3/files/file-1')).resolves.toEqual({
      id: 'file-1',
    });
  });

  it('does not take a 300 Multiple Choices for an answer: the provider classifies it (here unavailable)', async () => {
    const { http } = recordingHttp(answer(300, { choices: ['https://elsewhere.example/'] }));
    const error = await failure(api(http, scriptedTokens('at-1')).call(scope(), SUBJECT, 'https://www.googleapis.com/drive/v3/files/file-1'));
    expect(error.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'google-oauth2' });
    expect(error.message).toBe('google-oauth2 is unavailable: HTTP 300');
  });
});

describe('ProviderApi without a usable token', () => {
  it('is REAUTHENTICATION_REQUIRED (no_token) when the broker holds no token, and calls nobody', async () => {
    const { http, sent } = recordingHttp();
    const error = await failure(api(http, scriptedTokens(null)).call(scope(), SUBJECT, 'https://www.googleapis.com/drive/v3/files'));
    expect(error.extensions).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED', provider: 'google-oauth2', connection: 'google-oauth2', reason: 'no_token' });
    expect(sent).toHaveLength(0);
  });

  it('is REAUTHENTICATION_REQUIRED (no_token) when a refused token cannot be renewed, and does not call again', async () => {
    const { http, sent } = recordingHttp(answer(401, { message: 'Invalid Credentials' }));
    const error = await failure(api(http, scriptedTokens('at-1', null)).call(scope(), SUBJECT, 'https://www.googleapis.com/drive/v3/files'));
    expect(error.extensions).toMatchObject({ code: 'REAUTHENTICATION_REQUIRED', connection: 'google-oauth2', reason: 'no_token' });
    expect(sent).toHaveLength(1);
  });
});

describe('ProviderApi refusals of the request', () => {
  it('is BAD_USER_INPUT naming the provider, with an echoed token (first or renewed) shown as [redacted]', async () => {
    const { http } = recordingHttp(
      answer(401, { message: 'Invalid Credentials' }),
      answer(400, { message: 'Invalid value for q: token at-1-secret then at-2-secret' }),
    );
    const error = await failure(api(http, scriptedTokens('at-1-secret', 'at-2-secret')).call(scope(), SUBJECT, 'https://www.googleapis.com/drive/v3/files'));
    expect(error.extensions).toEqual({ code: 'BAD_USER_INPUT', provider: 'google-oauth2' });
    expect(error.message).toBe('google-oauth2 refused the request: Invalid value for q: token [redacted] then [redacted]');
  });
});

describe('ProviderApi request headers', () => {
  it('asks for JSON with the token in the Authorization header, and sends no content-type on a GET', async () => {
    const { http, sent } = recordingHttp(answer(200));
    await api(http, scriptedTokens('at-1')).call(scope(), SUBJECT, 'https://www.googleapis.com/drive/v3/files');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.headers).toEqual({ authorization: 'Bearer at-1', accept: 'application/json' });
    expect(sent[0]?.body).toBeUndefined();
  });

  it('labels a POST body as JSON unless the caller names its type', async () => {
    const { http, sent } = recordingHttp(answer(200), answer(200));
    const provider = api(http, scriptedTokens('at-1', 'at-1'));
    await provider.send(scope(), SUBJECT, { method: 'POST', url: 'https://api.github.com/graphql', body: '{"query":"{ viewer { login } }"}' });
    await provider.send(scope(), SUBJECT, { method: 'POST', url: 'https://example.com/search', body: 'q=x', contentType: 'application/x-www-form-urlencoded' });
    expect(sent[0]?.headers).toEqual({ authorization: 'Bearer at-1', accept: 'application/json', 'content-type': 'application/json' });
    expect(sent[0]?.body).toBe('{"query":"{ viewer { login } }"}');
    expect(sent[1]?.headers).toEqual({ authorization: 'Bearer at-1', accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' });
  });
});
