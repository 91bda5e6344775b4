import { ConfigurationError, ProviderRateLimitedError, UpstreamUnavailableError } from '../errors.js';
import { waitWithinDeadline } from '../http/request-stats.js';
import { retryAfterMs, type UpstreamClient } from '../http/upstream.js';
import type { Logger } from '../logger.js';
import { SingleFlight, type DistributedLock } from '../store/lock.js';
import type { Sealer } from '../store/sealing.js';
import type { SharedStore } from '../store/store.js';

const STORE_KEY = 'auth0:management-token';
const LOCK_KEY = 'lock:auth0:management-token';
/** How long an instance waits for another one's fetch before fetching itself (less near a request's deadline). */
const LOCK_WAIT_MS = 10_000;

interface CachedToken {
  token: string;
  /** Epoch ms after which the token must not be used any more (already margin-adjusted). */
  usableUntil: number;
}

/** What the provider needs to fetch and share tokens. */
export interface ManagementTokenDeps {
  origin: string;
  clientId: string;
  clientSecret: string;
  http: UpstreamClient;
  store: SharedStore;
  sealer: Sealer;
  lock: DistributedLock;
  logger: Logger;
  /** REQUEST_TIMEOUT_MS: a request waits for another instance's fetch only until its deadline. */
  requestTimeoutMs?: number;
}

/**
 * The Management API token of the gateway's machine-to-machine client (client-credentials grant).
 * It is kept in memory and, sealed, in the shared store until shortly before it expires, so N
 * instances fetch it once: within a process concurrent callers share one fetch, across processes
 * a lock makes one instance fetch while the others wait and re-read the store. If the store is
 * down, instances fall back to fetching on their own: an extra token is harmless, a failed
 * request is not.
 */
export class ManagementTokenProvider {
  private cached: CachedToken | undefined;
  private readonly flight = new SingleFlight<string>();
  /** The reason of the refusal logged last; cleared when a token is fetched. */
  private refusalLogged: string | undefined;

  constructor(private readonly deps: ManagementTokenDeps) {}

  /** A usable Management API access token. */
  async token(): Promise<string> {
    if (this.cached && this.cached.usableUntil > Date.now()) return this.cached.token;
    return this.flight.run('token', () => this.obtain());
  }

  /** Forgets `token` after the Management API rejected it, here and in the shared store. */
  async invalidate(token: string): Promise<void> {
    if (this.cached?.token === token) this.cached = undefined;
    const shared = await this.readShared().catch(() => undefined);
    if (shared?.token === token) await this.deps.store.delete(STORE_KEY).catch(() => undefined);
  }

  private async obtain(): Promise<string> {
    try {
      const shared = await this.readShared();
      if (shared) return this.remember(shared);
      // Waiting in vain is no failure: after the wait we re-read, and fetch ourselves if still empty.
      const waitMs = waitWithinDeadline(LOCK_WAIT_MS, this.deps.requestTimeoutMs);
      const lease = await this.deps.lock.acquire(LOCK_KEY, { leaseMs: 15_000, waitMs }).catch((error: unknown) => {
        throw new StoreFailure(error);
      });
      try {
        // Another instance may have fetched while we waited for the lock.
        const fresh = await this.readShared();
        if (fresh) return this.remember(fresh);
        const fetched = await this.fetchToken();
        // A store that fails now must not cost the token just fetched (nor a second fetch).
        await this.writeShared(fetched).catch((error: unknown) => {
          this.deps.logger.warn({ event: 'management_token_store_unavailable', err: error }, 'shared store unavailable; keeping the Management token locally');
        });
        return this.remember(fetched);
      } finally {
        // The lease runs out by itself when the store cannot delete it.
        await lease?.release().catch(() => undefined);
      }
    } catch (error) {
      if (!isStoreFailure(error)) throw error;
      this.deps.logger.warn({ event: 'management_token_store_unavailable', err: error }, 'shared store unavailable; fetching the Management token locally');
      return this.remember(await this.fetchToken());
    }
  }

  private remember(token: CachedToken): string {
    this.cached = token;
    return token.token;
  }

  private async readShared(): Promise<CachedToken | undefined> {
    const sealed = await this.deps.store.get(STORE_KEY).catch((error: unknown) => {
      throw new StoreFailure(error);
    });
    const opened = sealed ? this.deps.sealer.open(sealed, STORE_KEY) : undefined;
    if (!opened) return undefined;
    const token = JSON.parse(opened) as CachedToken;
    return token.usableUntil > Date.now() ? token : undefined;
  }

  private async writeShared(token: CachedToken): Promise<void> {
    const sealed = this.deps.sealer.seal(JSON.stringify(token), STORE_KEY);
    await this.deps.store.set(STORE_KEY, sealed, token.usableUntil - Date.now()).catch((error: unknown) => {
      throw new StoreFailure(error);
    });
  }

  private async fetchToken(): Promise<CachedToken> {
    const { origin, clientId, clientSecret, http, logger } = this.deps;
    const response = await http.send({
      method: 'POST',
      url: `${origin}/oauth/token`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, audience: `${origin}/api/v2/` }),
      idempotent: true,
    });
    const body = (response.body ?? {}) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
    if (response.status === 200 && body.access_token) {
      const lifetimeMs = (body.expires_in ?? 86_400) * 1000;
      // Renew a little before expiry: 60 s, or a tenth of a short lifetime.
      const margin = Math.min(60_000, lifetimeMs / 10);
      this.refusalLogged = undefined;
      logger.info({ event: 'management_token_fetched', expiresIn: body.expires_in }, 'fetched a Management API token');
      return { token: body.access_token, usableUntil: Date.now() + lifetimeMs - margin };
    }
    if (response.status === 429) throw new ProviderRateLimitedError('auth0', auth0RetryAfterSeconds(response.headers));
    if (response.status === 401 || response.status === 403) {
      const refused = new ManagementTokenRefusedError(response.status, body.error, body.error_description);
      // Auth0's description says what to fix (e.g. a missing client grant); operators read it in the
      // log. Once per distinct refusal: readiness retries and every request would repeat it.
      if (this.refusalLogged !== refused.reason) {
        this.refusalLogged = refused.reason;
        logger.error(
          { event: 'management_token_refused', status: response.status, error: body.error, description: body.error_description, reason: refused.reason },
          `Auth0 refused the Management API client credentials: ${refused.reason}`,
        );
      }
      throw refused;
    }
    throw new UpstreamUnavailableError('auth0', `the token endpoint answered HTTP ${response.status}`);
  }
}

/**
 * Auth0 refused the client-credentials grant (401/403): a CONFIGURATION_ERROR for callers, and a
 * `reason` for operators naming what to check (never the secret itself).
 */
export class ManagementTokenRefusedError extends ConfigurationError {
  /** E.g. `401 access_denied (check AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET)`. */
  readonly reason: string;

  constructor(status: number, oauthError: string | undefined, description: string | undefined) {
    super('auth0', `the Management API client credentials were refused (${oauthError ?? `HTTP ${status}`})`);
    this.reason = `${status} ${oauthError ?? 'refused'} (${refusalHint(status, oauthError, description)})`;
  }
}

// 401 is an unknown client or a wrong secret; 403 a client Auth0 knows but will not serve this
// grant: no client grant for the Management API, or an audience on a custom domain (Auth0 only
// serves `https://<tenant>.auth0.com/api/v2/`). Auth0's description is quoted, cut short.
function refusalHint(status: number, oauthError: string | undefined, description: string | undefined): string {
  if (status === 401 || oauthError === 'invalid_client') return 'check AUTH0_CLIENT_ID/AUTH0_CLIENT_SECRET';
  if (oauthError === 'unauthorized_client') return "enable the application's Client Credentials grant";
  const said = description ? `Auth0 says "${description.replace(/\s+/g, ' ').slice(0, 200)}"; ` : '';
  if (description?.startsWith('Service not enabled')) return `${said}AUTH0_DOMAIN must be the tenant's own domain, not a custom domain`;
  return `${said}authorize the application for the Auth0 Management API`;
}

/** Marks a failure of the shared store, as opposed to one of Auth0. */
class StoreFailure extends Error {
  constructor(cause: unknown) {
    super('shared store failure', { cause });
  }
}

function isStoreFailure(error: unknown): boolean {
  return error instanceof StoreFailure;
}

/** Seconds until Auth0 lets us in again: Retry-After, else the epoch-seconds x-ratelimit-reset, else 1. */
export function auth0RetryAfterSeconds(headers: Record<string, string | undefined>): number {
  const asked = retryAfterMs(headers);
  if (asked !== undefined && asked > 0) return Math.ceil(asked / 1000);
  const reset = Number(headers['x-ratelimit-reset']);
  if (Number.isFinite(reset) && reset > 0) return Math.max(1, Math.ceil(reset - Date.now() / 1000));
  return 1;
}
