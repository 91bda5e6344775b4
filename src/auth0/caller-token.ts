import { createHash } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { UnauthenticatedError, UpstreamUnavailableError } from '../errors.js';

/** The authenticated caller of one GraphQL request. */
export interface Caller {
  /** The Auth0 user id, or `<client id>@clients` for a machine-to-machine caller. */
  sub: string;
  /** True for client-credentials tokens, which have no `me`. */
  isMachine: boolean;
  /** Granted scopes: the `scope` claim plus the `permissions` array. */
  scopes: ReadonlySet<string>;
}

/** Where caller tokens come from and how keys are fetched. */
export interface CallerVerifierOptions {
  /** Tenant origin without trailing slash; `iss` must be this plus `/`. */
  origin: string;
  audience: string;
  /** Minimum time between two JWKS fetches caused by unknown `kid`s (jose's cooldown). */
  jwksCooldownMs?: number;
  /** How long a fetched JWKS is trusted before it is fetched again. */
  jwksMaxAgeMs?: number;
  /** How long one JWKS download may take before it counts as failed (503, not 401). */
  jwksTimeoutMs?: number;
}

/**
 * Verifies callers' Auth0 access tokens (docs/upstream-apis.md#auth0-caller-access-tokens); any
 * failure is a 401 UNAUTHENTICATED. RS256 only, keys from the tenant's JWKS (cached, and fetched
 * again when a token names an unknown `kid`, which is how Auth0 key rotation shows up), `iss` with
 * its trailing slash, `aud` containing our API.
 * Restricting the algorithm list is what refuses `alg: none` and HS256 tokens keyed with the
 * public key.
 *
 * A verified token is remembered (by its SHA-256, never the token itself) until it expires, but
 * for at most VERIFIED_TTL_MS: a client sends the same token with every request, and an RSA
 * signature check per request was about a tenth of the gateway's CPU. The cap bounds how long a
 * token signed with a key the tenant has since withdrawn stays accepted. Failures are never
 * remembered: a bad token is checked (and refused) every time.
 */
export class CallerVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly issuer: string;
  private readonly verified = new LRUCache<string, Caller>({ max: VERIFIED_MAX_ENTRIES, ttl: VERIFIED_TTL_MS });
  private jwksStatus: number | undefined;

  constructor(private readonly options: CallerVerifierOptions) {
    this.issuer = `${options.origin}/`;
    this.jwks = createRemoteJWKSet(new URL(`${options.origin}/.well-known/jwks.json`), {
      cooldownDuration: options.jwksCooldownMs ?? 10_000,
      cacheMaxAge: options.jwksMaxAgeMs ?? 10 * 60_000,
      timeoutDuration: options.jwksTimeoutMs ?? 5_000,
      // jose says only "expected 200 OK"; the status it got tells a wrong AUTH0_DOMAIN apart.
      [customFetch]: async (url, init) => {
        const response = await fetch(url, init);
        this.jwksStatus = response.status;
        return response;
      },
    });
  }

  /** The HTTP status of the tenant's last JWKS answer; undefined before the first one. */
  get lastJwksStatus(): number | undefined {
    return this.jwksStatus;
  }

  /**
   * Fetches the tenant's signing keys now, so readiness can wait for them and the first caller does
   * not; resolves to how many RSA keys the set holds, rejects with what the fetch threw.
   */
  async loadSigningKeys(): Promise<number> {
    await this.jwks.reload();
    return (this.jwks.jwks()?.keys ?? []).filter((key) => key.kty === 'RSA').length;
  }

  /** Resolves the caller from an Authorization header, or throws UnauthenticatedError. */
  async verify(authorization: string | null): Promise<Caller> {
    const token = bearerTokenOf(authorization);
    if (!token) throw new UnauthenticatedError('an Authorization: Bearer <access token> header is required');
    const digest = createHash('sha256').update(token).digest('base64url');
    const known = this.verified.get(digest);
    if (known) return known;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        issuer: this.issuer,
        audience: this.options.audience,
        algorithms: ['RS256'],
        clockTolerance: 5,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      // The tenant's keys could not be fetched: not the caller's fault, so no 401 that would make
      // clients throw away a good token.
      if (isKeyFetchFailure(error)) throw new UpstreamUnavailableError('auth0', 'the tenant signing keys could not be fetched', 503);
      throw new UnauthenticatedError(describe(error));
    }
    const sub = String(payload.sub);
    const caller: Caller = { sub, isMachine: sub.endsWith('@clients'), scopes: grantedScopes(payload) };
    // `exp` is required and was checked (with 5 s of tolerance): remember until it, capped.
    const remaining = Number(payload.exp) * 1000 - Date.now();
    if (remaining > 1000) this.verified.set(digest, caller, { ttl: Math.min(remaining, VERIFIED_TTL_MS) });
    return caller;
  }
}

/** The access token of an `Authorization: Bearer <token>` header; undefined for any other header. */
export function bearerTokenOf(authorization: string | null): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

/** How long a verified token is trusted without checking its signature again, at most. */
const VERIFIED_TTL_MS = 5 * 60_000;
/** Verified tokens remembered at once (about 200 bytes each). */
const VERIFIED_MAX_ENTRIES = 10_000;

function grantedScopes(payload: JWTPayload): Set<string> {
  const scopes = new Set<string>();
  if (typeof payload.scope === 'string') for (const scope of payload.scope.split(' ')) if (scope) scopes.add(scope);
  if (Array.isArray(payload.permissions)) for (const permission of payload.permissions) if (typeof permission === 'string') scopes.add(permission);
  return scopes;
}

// Reasons name the failed check, never the token.
function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the access token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `the access token's "${error.claim}" claim is not accepted`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'the access token must be signed with RS256';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'the access token was signed with an unknown key';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the access token signature is invalid';
  return 'the access token is malformed';
}

// jose reports a failed JWKS download as a timeout, a key set that is not one (JWKSInvalid), a
// generic JOSEError (non-200, bad JSON) or the fetch's own error; every other failure is about the
// token.
function isKeyFetchFailure(error: unknown): boolean {
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) return true;
  if (error instanceof joseErrors.JOSEError) return error.code === 'ERR_JOSE_GENERIC';
  return true;
}
