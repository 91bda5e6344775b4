import { GraphQLError } from 'graphql';

/**
 * The one place where user-facing error codes are defined; clients branch on `extensions.code`, so
 * the codes are public (the README's error table says when each applies). Everything else throws
 * these classes; anything else that escapes a resolver is an internal failure and yoga masks it.
 * Messages never carry a secret: callers pass only names, never tokens or upstream bodies.
 */

/** Every `extensions.code` the gateway emits. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'REAUTHENTICATION_REQUIRED'
  | 'PROVIDER_RATE_LIMITED'
  | 'PROVIDER_PERMISSION_DENIED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'CONFIGURATION_ERROR'
  | 'QUERY_TOO_EXPENSIVE';

/** Base class: a GraphQLError whose `extensions.code` is one of ours. */
export class GatewayError extends GraphQLError {
  constructor(message: string, code: ErrorCode, extensions: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extensions } });
  }

  /** The contract code of this error. */
  get code(): ErrorCode {
    return this.extensions.code as ErrorCode;
  }
}

/** The caller's token is missing or invalid; the whole request is refused with HTTP 401. */
export class UnauthenticatedError extends GatewayError {
  constructor(reason: string) {
    super(`Unauthenticated: ${reason}`, 'UNAUTHENTICATED', {
      http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } },
    });
  }
}

/** The caller lacks a scope (or is a machine asking for `me`); only that field fails. */
export class ForbiddenError extends GatewayError {
  constructor(message: string, requiredScope?: string) {
    super(message, 'FORBIDDEN', requiredScope ? { requiredScope } : {});
  }
}

/** Arguments the gateway refuses before calling anything upstream. */
export class BadUserInputError extends GatewayError {
  constructor(message: string, extensions: Record<string, unknown> = {}) {
    super(message, 'BAD_USER_INPUT', extensions);
  }

  /** The same refusal for a whole request (a document over a limit): HTTP 400, nothing executed. */
  static forRequest(message: string, extensions: Record<string, unknown> = {}): BadUserInputError {
    return new BadUserInputError(message, { ...extensions, http: { status: 400 } });
  }
}

/**
 * The operation could cause more upstream calls than the gateway allows one request. Before
 * execution it refuses the whole operation (HTTP 400); during execution, as a backstop, each call
 * past the limit fails its own field.
 */
export class QueryTooExpensiveError extends GatewayError {
  constructor(cost: number, limit: number, beforeExecution: boolean) {
    super(
      beforeExecution
        ? `This operation could cause ${cost} upstream calls; at most ${limit} are allowed per request. Ask for fewer provider fields, aliases or users.`
        : `This request has used its ${limit} upstream calls; this field would be call ${cost}.`,
      'QUERY_TOO_EXPENSIVE',
      beforeExecution ? { cost, limit, http: { status: 400 } } : { cost, limit },
    );
  }
}

/** The provider token is dead for good: the user must sign in through `connection` again. */
export class ReauthenticationRequiredError extends GatewayError {
  constructor(provider: string, connection: string, extensions: Record<string, unknown> = {}) {
    super(`The ${connection} token can no longer be used; the user must sign in with ${connection} again.`, 'REAUTHENTICATION_REQUIRED', {
      provider,
      connection,
      ...extensions,
    });
  }
}

/** A provider (or Auth0) still limits us after the bounded retries; `retryAfter` is in seconds. */
export class ProviderRateLimitedError extends GatewayError {
  constructor(provider: string, retryAfter: number) {
    super(`${provider} is rate limiting requests; retry after ${retryAfter} s.`, 'PROVIDER_RATE_LIMITED', {
      provider,
      retryAfter,
    });
  }
}

/**
 * The provider token works but lacks a permission (scope) this field needs. Signing in again with
 * the same scopes would not add it, so this is not REAUTHENTICATION_REQUIRED: the permission must be
 * requested by the connection and consented to. `requiredPermission` names the least-privilege one,
 * when the field knows it; `detail` is the provider's short reason (an error code, never a body).
 */
export class ProviderPermissionDeniedError extends GatewayError {
  constructor(
    readonly provider: string,
    readonly connection: string,
    readonly detail: string,
    requiredPermission?: string,
  ) {
    super(
      `The ${connection} token lacks a permission ${provider} requires for this field${requiredPermission ? ` (${requiredPermission})` : ''}: ${detail}.`,
      'PROVIDER_PERMISSION_DENIED',
      requiredPermission ? { provider, connection, requiredPermission } : { provider, connection },
    );
  }

  /** The same refusal naming the permission the field needs. */
  requiring(requiredPermission: string): ProviderPermissionDeniedError {
    return new ProviderPermissionDeniedError(this.provider, this.connection, this.detail, requiredPermission);
  }
}

/** Timeouts, 5xx, network errors and coordination failures: retryable, never a reason to re-authenticate. */
export class UpstreamUnavailableError extends GatewayError {
  /** `httpStatus` is for failures that stop the whole request (e.g. the tenant's keys cannot be fetched). */
  constructor(provider: string, detail: string, httpStatus?: number) {
    super(`${provider} is unavailable: ${detail}`, 'UPSTREAM_UNAVAILABLE', httpStatus ? { provider, http: { status: httpStatus } } : { provider });
  }
}

/** The gateway's own credentials for a provider were rejected (e.g. `invalid_client`). */
export class ConfigurationError extends GatewayError {
  constructor(provider: string, detail: string) {
    super(`The gateway is misconfigured for ${provider}: ${detail}`, 'CONFIGURATION_ERROR', { provider });
  }
}
