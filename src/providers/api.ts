import { BadUserInputError, ConfigurationError, ProviderRateLimitedError, ReauthenticationRequiredError, UpstreamUnavailableError } from '../errors.js';
import { ProviderPermissionDeniedError } from '../errors.js';
import { retryAfterMs, type UpstreamClient, type UpstreamResponse } from '../http/upstream.js';
import type { UpstreamBudget } from '../limits/upstream-budget.js';
import type { TokenBroker, TokenSubject } from '../tokens/broker.js';
import type { PolicyDeps } from '../tokens/policy.js';

/** How a provider's error answer is to be understood (from its real error bodies; see docs/upstream-apis.md). */
export type ProviderFailure =
  /** The access token was refused: renew once and retry once. */
  | { kind: 'unauthorized' }
  /** Still limiting us; `retryAfter` in seconds. */
  | { kind: 'rate_limited'; retryAfter: number }
  /** The thing asked for does not exist (or is not the user's): the field is null. */
  | { kind: 'not_found' }
  /** The provider refused the caller's arguments. */
  | { kind: 'bad_request'; message: string }
  /**
   * The token is valid but lacks a permission (scope) the call needs: neither a renewal nor a new
   * sign-in asking for the same scopes changes that, so the field fails with PROVIDER_PERMISSION_DENIED.
   */
  | { kind: 'permission_denied'; detail: string }
  /** The provider refused the gateway's own setup (e.g. a wrong app secret proof). */
  | { kind: 'misconfigured'; detail: string }
  /** Anything else: timeouts, 5xx, withdrawn endpoints. */
  | { kind: 'unavailable'; detail: string };

/** What a provider folder declares about its API; the gateway adds the HTTP client. */
export interface ProviderApiDefinition {
  /** The Auth0 strategy, used in errors and telemetry (e.g. `google-oauth2`). */
  provider: string;
  /** Reads a non-2xx answer. */
  classify: (response: UpstreamResponse) => ProviderFailure;
  /** Adds what the provider wants besides the bearer token (Facebook's appsecret_proof). */
  sign?: (request: { url: URL; accessToken: string; connection: string }, deps: PolicyDeps) => Promise<void>;
  /** Largest answer accepted (default 5 MiB); a larger one is UPSTREAM_UNAVAILABLE. */
  maxBodyBytes?: number;
  /** Request headers the provider wants on every call besides authorization and accept (Microsoft Graph's `Prefer`). */
  headers?: Readonly<Record<string, string>>;
}

/** A definition with what the gateway gives it: the HTTP client, the token broker, config and connections. */
export interface ProviderApiOptions extends ProviderApiDefinition {
  http: UpstreamClient;
  tokens: TokenBroker;
  deps: PolicyDeps;
}

/** What a provider call needs of the request it serves: the request's upstream budget. */
export interface ProviderCallScope {
  upstreamBudget: UpstreamBudget;
}

/** One request to a provider's API: a GET, or a POST with a body (GitHub's GraphQL endpoint takes a JSON one). */
export interface ProviderRequest {
  method: 'GET' | 'POST';
  url: string;
  /** Sent as is, with `contentType`; never holds the token. */
  body?: string;
  contentType?: string;
  /** Safe to send again after a timeout or 5xx (a read); defaults to true for GET. */
  idempotent?: boolean;
}

/**
 * Calls one provider's API on behalf of a token subject (an identity). The token comes from the
 * broker and travels only in the Authorization header (never in a URL or a body, so it cannot reach
 * a log through one). A refused token is renewed once and the call retried once; the call counts
 * once against the request's budget. Errors are the gateway's typed errors and name the provider and
 * connection, never a token. Callers that may ask for the same GET twice in a request deduplicate
 * before calling (the GraphQL layer does, per request).
 */
export class ProviderApi {
  constructor(private readonly options: ProviderApiOptions) {}

  /** GET `url` as `subject`; the parsed JSON body, or null when the provider says it does not exist. */
  async call(scope: ProviderCallScope, subject: TokenSubject, url: string): Promise<unknown> {
    const response = await this.send(scope, subject, { method: 'GET', url });
    return response === null ? null : response.body;
  }

  /**
   * Sends `request` as `subject`: the whole answer (status, headers, body) when the provider did not
   * refuse it, or null when it says the thing does not exist. For callers that read more than the
   * body, such as GitHub's rate-limit headers beside a GraphQL answer.
   */
  async send(scope: ProviderCallScope, subject: TokenSubject, request: ProviderRequest): Promise<UpstreamResponse | null> {
    scope.upstreamBudget.spend();
    const { provider, tokens } = this.options;
    const token = await tokens.validAccessToken(subject);
    if (!token) throw new ReauthenticationRequiredError(provider, subject.connection, { reason: 'no_token' });
    const sent = [token];
    let response = await this.deliver(subject, request, token);
    let failure = response.status < 300 ? undefined : this.options.classify(response);
    if (failure?.kind === 'unauthorized') {
      // Renewed only if the store still holds the refused token; a dead grant throws REAUTHENTICATION_REQUIRED.
      const renewed = await tokens.validAccessToken(subject, { rejected: token });
      if (!renewed) throw new ReauthenticationRequiredError(provider, subject.connection, { reason: 'no_token' });
      sent.push(renewed);
      response = await this.deliver(subject, request, renewed);
      failure = response.status < 300 ? undefined : this.options.classify(response);
      if (failure?.kind === 'unauthorized') {
        throw new ReauthenticationRequiredError(provider, subject.connection, { reason: 'token_refused_after_renewal' });
      }
    }
    if (!failure) return response;
    // Upstream text reaches the caller only without the token we sent (a provider may echo it).
    const scrub = (text: string) => sent.reduce((clean, value) => clean.split(value).join('[redacted]'), text);
    switch (failure.kind) {
      case 'not_found':
        return null;
      case 'rate_limited':
        throw new ProviderRateLimitedError(provider, failure.retryAfter);
      case 'bad_request':
        throw new BadUserInputError(`${provider} refused the request: ${scrub(failure.message)}`, { provider });
      case 'permission_denied':
        throw new ProviderPermissionDeniedError(provider, subject.connection, scrub(failure.detail));
      case 'misconfigured':
        throw new ConfigurationError(provider, failure.detail);
      default:
        throw new UpstreamUnavailableError(provider, failure.kind === 'unavailable' ? scrub(failure.detail) : 'unexpected answer');
    }
  }

  private async deliver(subject: TokenSubject, request: ProviderRequest, token: string): Promise<UpstreamResponse> {
    const target = new URL(request.url);
    await this.options.sign?.({ url: target, accessToken: token, connection: subject.connection }, this.options.deps);
    const headers: Record<string, string> = { ...this.options.headers, authorization: `Bearer ${token}`, accept: 'application/json' };
    if (request.body !== undefined) headers['content-type'] = request.contentType ?? 'application/json';
    return this.options.http.send({ method: request.method, url: target.toString(), headers, body: request.body, idempotent: request.idempotent });
  }
}

/** Seconds to wait from a standard Retry-After header (seconds or an HTTP date), else `fallback`. */
export function retryAfterSeconds(response: UpstreamResponse, fallback: number): number {
  const asked = retryAfterMs(response.headers);
  return asked !== undefined && asked > 0 ? Math.ceil(asked / 1000) : fallback;
}

// Upstream text ends up in an error message: keep it short.
const MAX_UPSTREAM_TEXT = 200;

/** A string from an upstream body, trimmed and shortened for an error message; undefined for anything else. */
export function upstreamText(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const trimmed = value.trim();
  return trimmed.length > MAX_UPSTREAM_TEXT ? `${trimmed.slice(0, MAX_UPSTREAM_TEXT)}…` : trimmed;
}
