import { errors as joseErrors } from 'jose';
import { ProviderRateLimitedError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ManagementTokenRefusedError } from './management-token.js';

/** What the readiness check fetches, and how patiently it retries. */
export interface TenantReadinessDeps {
  /** Tenant origin without trailing slash, e.g. `https://acme.eu.auth0.com`. */
  origin: string;
  /** The caller verifier's key set: loading it here means the first caller does not wait for it. */
  signingKeys: { loadSigningKeys(): Promise<number>; readonly lastJwksStatus: number | undefined };
  /** A Management API token (the shared provider's, so the token fetched here is the one requests use). */
  managementToken: () => Promise<string>;
  logger: Logger;
  /** Wait after the first failure; it doubles after each further one (with jitter). Default 1 s. */
  firstRetryMs?: number;
  /** The longest wait between two attempts. Default 60 s: at most one JWKS and one token request a minute. */
  maxRetryMs?: number;
}

type State = { kind: 'idle' } | { kind: 'checking' } | { kind: 'ready' } | { kind: 'failing'; reason: string };

/**
 * Whether the gateway can serve its tenant: the tenant's signing keys (JWKS) were fetched and a
 * Management API token obtained. A wrong AUTH0_DOMAIN (no DNS entry, nothing listening, a host
 * that is no Auth0 tenant) or refused client credentials would otherwise only show up as failing
 * requests; here they keep `/readyz` at 503 with the reason, logged once per distinct reason.
 *
 * The check runs in the background from `start()`, never blocking startup, and retries with
 * exponential backoff capped at `maxRetryMs`, so a network blip heals without a restart and a
 * permanent misconfiguration costs the tenant about two requests a minute. Once ready it stops:
 * later failures belong to the requests that meet them, not to readiness (an Auth0 outage must
 * not take every instance out of the load balancer at once).
 */
export class TenantReadiness {
  private state: State = { kind: 'idle' };
  private attempt: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private loggedReason: string | undefined;

  constructor(private readonly deps: TenantReadinessDeps) {}

  /** Starts checking (once; later calls do nothing). */
  start(): void {
    if (this.state.kind !== 'idle' || this.stopped) return;
    this.state = { kind: 'checking' };
    this.run();
  }

  /** Stops retrying; an attempt in flight finishes without effect. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** True once the signing keys and a Management API token were fetched. */
  get ready(): boolean {
    return this.state.kind === 'ready';
  }

  /** `ok`, `checking` (the first attempt is under way), `not checked yet`, or why the tenant is not usable. */
  get summary(): string {
    switch (this.state.kind) {
      case 'ready':
        return 'ok';
      case 'checking':
        return 'checking';
      case 'idle':
        return 'not checked yet';
      case 'failing':
        return this.state.reason;
    }
  }

  /** Waits, at most `timeoutMs`, for the first attempt if it is under way; later attempts are not waited for. */
  async settled(timeoutMs: number): Promise<void> {
    if (this.state.kind !== 'checking' || !this.attempt) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await Promise.race([this.attempt, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private run(): void {
    this.timer = undefined;
    this.attempt = this.check().then(
      () => this.succeeded(),
      (error: unknown) => this.failed(error),
    );
  }

  /** Signing keys first: when the domain is wrong, their fetch says how (DNS, refused, not Auth0). */
  private async check(): Promise<void> {
    const { origin, signingKeys, managementToken } = this.deps;
    let keys: number;
    try {
      keys = await signingKeys.loadSigningKeys();
    } catch (error) {
      throw new NotReady(describeKeyFailure(error, origin, signingKeys.lastJwksStatus));
    }
    if (keys === 0) throw new NotReady(`not an Auth0 tenant: ${origin}/.well-known/jwks.json holds no RSA signing key (check AUTH0_DOMAIN)`);
    try {
      await managementToken();
    } catch (error) {
      throw new NotReady(describeTokenFailure(error), error);
    }
  }

  private succeeded(): void {
    if (this.stopped) return;
    const recovered = this.state.kind === 'failing';
    this.state = { kind: 'ready' };
    this.failures = 0;
    const line = { event: 'tenant_ready', tenant: this.deps.origin };
    if (recovered) this.deps.logger.info(line, `tenant ${this.deps.origin} is usable now: signing keys and a Management API token fetched`);
    else this.deps.logger.debug(line, `tenant ${this.deps.origin}: signing keys and a Management API token fetched`);
  }

  private failed(error: unknown): void {
    if (this.stopped) return;
    const reason = error instanceof NotReady ? error.message : `check failed: ${String(error)}`;
    this.state = { kind: 'failing', reason };
    this.failures += 1;
    const first = this.deps.firstRetryMs ?? 1000;
    const backoff = Math.min(this.deps.maxRetryMs ?? 60_000, first * 2 ** (this.failures - 1));
    // Jitter, so instances that failed together do not return together; Auth0's Retry-After wins.
    const retryAfter = error instanceof NotReady && error.cause instanceof ProviderRateLimitedError ? Number(error.cause.extensions.retryAfter) * 1000 : 0;
    const waitMs = Math.max(Math.round(backoff * (0.8 + Math.random() * 0.4)), retryAfter);
    // The token provider logs a refusal itself, with Auth0's description: one line per event.
    const loggedElsewhere = error instanceof NotReady && error.cause instanceof ManagementTokenRefusedError;
    if (reason !== this.loggedReason && !loggedElsewhere) {
      this.deps.logger.error(
        { event: 'tenant_not_ready', tenant: this.deps.origin, reason, retryInMs: waitMs },
        `tenant ${this.deps.origin} is not usable: ${reason}; retrying in the background`,
      );
    }
    this.loggedReason = reason;
    this.timer = setTimeout(() => this.run(), waitMs);
    this.timer.unref();
  }
}

/** A failed check with its reason as the message (no stack is ever logged for it). */
class NotReady extends Error {
  constructor(reason: string, cause?: unknown) {
    super(reason, { cause });
  }
}

/** Why the JWKS could not be fetched, in terms of what to check. */
function describeKeyFailure(error: unknown, origin: string, status: number | undefined): string {
  const url = `${origin}/.well-known/jwks.json`;
  const { host, hostname } = new URL(origin);
  if (error instanceof joseErrors.JWKSTimeout) return `unreachable: ${url} gave no answer within 5 s`;
  if (error instanceof joseErrors.JOSEError) {
    if (status !== undefined && status !== 200) return `not an Auth0 tenant: ${url} answered HTTP ${status} (check AUTH0_DOMAIN)`;
    return `not an Auth0 tenant: ${url} answered no JSON Web Key Set (check AUTH0_DOMAIN)`;
  }
  const code = networkErrorCode(error);
  if (code && ['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL'].includes(code))
    return `unreachable: DNS lookup of ${hostname} failed (${code}; check AUTH0_DOMAIN)`;
  if (code === 'ECONNREFUSED') return `unreachable: connection to ${host} refused (check AUTH0_DOMAIN)`;
  if (code && /CERT|TLS|SSL|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) return `unreachable: TLS with ${host} failed (${code})`;
  if (code) return `unreachable: ${host} (${code})`;
  return `unreachable: ${url} could not be fetched (${describeError(error)})`;
}

/** Why no Management API token was obtained. */
function describeTokenFailure(error: unknown): string {
  if (error instanceof ManagementTokenRefusedError) return `management token refused: ${error.reason}`;
  if (error instanceof ProviderRateLimitedError)
    return `management token not fetched: Auth0 rate limits the token endpoint (retry after ${String(error.extensions.retryAfter)} s)`;
  return `management token not fetched: ${error instanceof Error ? error.message : String(error)}`;
}

/** An error's message and its cause's (`fetch failed: bad port`), never a stack. */
function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
  return cause ? `${message}: ${cause}` : message;
}

/** The system error code of a failed fetch (undici wraps it: `fetch failed` → cause, or an AggregateError of attempts). */
function networkErrorCode(error: unknown): string | undefined {
  const codeOf = (value: unknown): string | undefined => {
    const code = (value as { code?: unknown } | null | undefined)?.code;
    return typeof code === 'string' ? code : undefined;
  };
  const cause = (error as { cause?: unknown } | null | undefined)?.cause;
  const nested = (cause as { errors?: unknown[] } | undefined)?.errors?.[0];
  return codeOf(cause) ?? codeOf(nested) ?? codeOf(error);
}
