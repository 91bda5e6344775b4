import DataLoader from 'dataloader';
import {
  BadUserInputError,
  ConfigurationError,
  ProviderRateLimitedError,
  ReauthenticationRequiredError,
  UpstreamUnavailableError,
} from '../errors.js';
import type { GatewayContext } from '../graphql/context.js';
import { subjectOf, type IdentityParent } from '../graphql/identity.js';
import { retryAfterMs, type UpstreamClient, type UpstreamResponse } from '../http/upstream.js';

/** How a provider's error answer is to be understood (from its real error bodies, reference/providers.md). */
export type ProviderFailure =
  /** The access token was refused: renew once and retry once. */
  | { kind: 'unauthorized' }
  /** Still limiting us; `retryAfter` in seconds. */
  | { kind: 'rate_limited'; retryAfter: number }
  /** The thing asked for does not exist (or is not the user's): the field is null. */
  | { kind: 'not_found' }
  /** The provider refused the caller's arguments. */
  | { kind: 'bad_request'; message: string }
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
  sign?: (url: URL, accessToken: string, context: GatewayContext, parent: IdentityParent) => Promise<void>;
  /** Largest answer accepted (default 5 MiB); a larger one is UPSTREAM_UNAVAILABLE. */
  maxBodyBytes?: number;
}

/** A definition with the HTTP client the gateway gives it. */
export interface ProviderApiOptions extends ProviderApiDefinition {
  http: UpstreamClient;
}

interface CallKey {
  parent: IdentityParent;
  url: string;
}

/**
 * Calls one provider's API on behalf of an identity. The token comes from the broker and travels
 * only in the Authorization header (never in a URL, so it cannot reach a log through one). A
 * refused token is renewed once and the call retried once. The same GET for the same identity is
 * sent once per GraphQL request. Errors are the contract's and name the provider, never a token.
 */
export class ProviderApi {
  private readonly perRequest = new WeakMap<GatewayContext, DataLoader<CallKey, unknown, string>>();

  constructor(private readonly options: ProviderApiOptions) {}

  /** GET `url` as the identity; the parsed JSON body, or null when the provider says it does not exist. */
  get(context: GatewayContext, parent: IdentityParent, url: string): Promise<unknown> {
    let loader = this.perRequest.get(context);
    if (!loader) {
      loader = new DataLoader<CallKey, unknown, string>(
        (keys) => Promise.all(keys.map((key) => this.call(context, key.parent, key.url).catch((error: unknown) => error as Error))),
        { cacheKeyFn: (key) => `${subjectOf(key.parent, context).key}\u0000${key.url}` },
      );
      this.perRequest.set(context, loader);
    }
    return loader.load({ parent, url });
  }

  private async call(context: GatewayContext, parent: IdentityParent, url: string): Promise<unknown> {
    context.upstreamBudget.spend();
    const subject = subjectOf(parent, context);
    const { provider } = this.options;
    const token = await context.services.tokens.validAccessToken(subject);
    if (!token) throw new ReauthenticationRequiredError(provider, parent.identity.connection, { reason: 'no_token' });
    const sent = [token];
    let response = await this.send(context, parent, url, token);
    let failure = response.status < 300 ? undefined : this.options.classify(response);
    if (failure?.kind === 'unauthorized') {
      // Renewed only if the store still holds the refused token; a dead grant throws REAUTHENTICATION_REQUIRED.
      const renewed = await context.services.tokens.validAccessToken(subject, { rejected: token });
      if (!renewed) throw new ReauthenticationRequiredError(provider, parent.identity.connection, { reason: 'no_token' });
      sent.push(renewed);
      response = await this.send(context, parent, url, renewed);
      failure = response.status < 300 ? undefined : this.options.classify(response);
      if (failure?.kind === 'unauthorized') {
        throw new ReauthenticationRequiredError(provider, parent.identity.connection, { reason: 'token_refused_after_renewal' });
      }
    }
    if (!failure) return response.body;
    // Upstream text reaches the caller only without the token we sent (a provider may echo it).
    const scrub = (text: string) => sent.reduce((clean, value) => clean.split(value).join('[redacted]'), text);
    switch (failure.kind) {
      case 'not_found':
        return null;
      case 'rate_limited':
        throw new ProviderRateLimitedError(provider, failure.retryAfter);
      case 'bad_request':
        throw new BadUserInputError(`${provider} refused the request: ${scrub(failure.message)}`, { provider });
      case 'misconfigured':
        throw new ConfigurationError(provider, failure.detail);
      default:
        throw new UpstreamUnavailableError(provider, failure.kind === 'unavailable' ? failure.detail : 'unexpected answer');
    }
  }

  private async send(context: GatewayContext, parent: IdentityParent, url: string, token: string): Promise<UpstreamResponse> {
    const target = new URL(url);
    await this.options.sign?.(target, token, context, parent);
    return this.options.http.send({ method: 'GET', url: target.toString(), headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
  }
}

/** Seconds to wait from a standard Retry-After header (seconds or an HTTP date), else `fallback`. */
export function retryAfterSeconds(response: UpstreamResponse, fallback: number): number {
  const asked = retryAfterMs(response.headers);
  return asked !== undefined && asked > 0 ? Math.ceil(asked / 1000) : fallback;
}
