import { createHash } from 'node:crypto';
import type { GatewayConfig } from '../config.js';
import { type ReauthenticationRequiredError, UpstreamUnavailableError } from '../errors.js';
import { waitWithinDeadline } from '../http/request-stats.js';
import type { UpstreamClient } from '../http/upstream.js';
import type { Logger } from '../logger.js';
import { SingleFlight, type DistributedLock } from '../store/lock.js';
import type { Sealer } from '../store/sealing.js';
import type { SharedStore } from '../store/store.js';
import type { TokenPolicy } from './policy.js';
import type { TokenStatus } from './status.js';
import { guardStore, reauthenticationRequired } from './outcomes.js';
import { sendVaultExchange } from './token-vault-grant.js';

/** The Token Vault settings (TOKEN_VAULT_CONNECTIONS, TOKEN_VAULT_CLIENT_ID, TOKEN_VAULT_CLIENT_SECRET). */
export type TokenVaultConfig = NonNullable<GatewayConfig['tokenVault']>;

/** An identity whose provider token comes from Auth0 Token Vault: the caller's own, on a vault connection. */
export interface VaultSubject {
  /** The Auth0 user id (the caller's `sub`). */
  userId: string;
  /** The Auth0 strategy, e.g. `google-oauth2`. */
  provider: string;
  connection: string;
  /** The identity's user id at the provider (the exchange's `login_hint`). */
  identityUserId: string;
  /** The caller's Auth0 access token, the exchange's subject token; a closure, so it never serializes. */
  subjectToken: () => string | undefined;
}

/** What the Token Vault source needs. */
export interface TokenVaultDeps {
  config: GatewayConfig;
  vault: TokenVaultConfig;
  store: SharedStore;
  sealer: Sealer;
  lock: DistributedLock;
  /** The HTTP client for Auth0's token endpoint. */
  http: UpstreamClient;
  /** The providers' policies, for the authorize parameters of a reconnect prompt. */
  policies: readonly TokenPolicy[];
  logger: Logger;
  /** Counts exchange outcomes (metrics). */
  onExchange?: (provider: string, outcome: 'issued' | 'refused' | 'failed') => void;
}

/** A cached exchange answer, sealed in the store. */
interface CachedToken {
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

// An exchanged token is used until this long before its expiry, and cached until then: a token
// with less life left serves the request that got it but is not cached.
const CACHE_MARGIN_MS = 60_000;
// How long a refusal answers for the user and connection without asking Auth0: long enough that a
// burst of requests costs one exchange, short enough that a user who just connected the account
// again is not sent round once more.
const REFUSAL_TTL_MS = 5_000;
// The exchange lock's lease, renewed by the holder's heartbeat while it lives (see DistributedLock).
const LOCK_LEASE_MS = 5_000;

/** Whether a Token Vault subject applies: the caller's own identity on a listed connection, with a caller token in hand. */
export function vaultSubjectFor(
  vault: Pick<TokenVaultConfig, 'connections'> | undefined,
  caller: { sub: string; accessToken: (() => string | undefined) | undefined },
  identity: Omit<VaultSubject, 'subjectToken'>,
): VaultSubject | undefined {
  if (!vault || !caller.accessToken || caller.sub !== identity.userId || !vault.connections.includes(identity.connection)) return undefined;
  return { ...identity, subjectToken: caller.accessToken };
}

/** The store keys of a vault subject: one hash tag (one Redis Cluster slot), and no user id or connection name in them. */
export function vaultKeys(subject: Pick<VaultSubject, 'userId' | 'connection' | 'identityUserId'>): {
  tag: string;
  record: string;
  lock: string;
  refused: string;
} {
  const tag = createHash('sha256')
    .update(`vault\u0000${subject.userId}\u0000${subject.connection}\u0000${subject.identityUserId}`)
    .digest('base64url')
    .slice(0, 24);
  return { tag, record: `vault:token:{${tag}}`, lock: `lock:vault:{${tag}}`, refused: `refused:vault:{${tag}}` };
}

/**
 * Provider access tokens from Auth0 Token Vault, for the caller's own identities on the
 * TOKEN_VAULT_CONNECTIONS. An exchanged token is cached sealed per user, connection and identity
 * until a minute before it expires, so however many fields, requests and instances use it, one
 * exchange serves them: concurrent callers in this process share one promise, and instances share
 * a lock in the store, re-reading the cache once they hold it. A token a provider just refused is
 * dropped (if the cache still holds it) and exchanged once more. A refusal (the account is not
 * connected, or Auth0 could not refresh it) is REAUTHENTICATION_REQUIRED, remembered for a few
 * seconds; a store failure is UPSTREAM_UNAVAILABLE, never a reason to reconnect.
 */
export class TokenVault {
  private readonly flight = new SingleFlight<string>();

  constructor(private readonly deps: TokenVaultDeps) {}

  /** A valid provider access token for the subject; `rejected` is one the provider just refused. */
  async validAccessToken(subject: VaultSubject, { rejected }: { rejected?: string } = {}): Promise<string> {
    const keys = vaultKeys(subject);
    const state = await this.guard(subject, () => this.readState(keys));
    const cached = this.answer(subject, state, rejected);
    if (cached) return cached;
    const refusedPrint = rejected === undefined ? '' : createHash('sha256').update(rejected).digest('base64url').slice(0, 16);
    return this.flight.run(`${keys.tag}:${refusedPrint}`, () => this.exchangeUnderLock(subject, keys, rejected));
  }

  /** What is known about the subject's token, exchanging nothing: VALID while one is cached, else UNKNOWN. */
  async status(subject: VaultSubject): Promise<TokenStatus> {
    try {
      const { cached, refused } = await this.readState(vaultKeys(subject));
      if (refused) return { expiresAt: null, hasRefreshToken: false, state: 'REAUTHENTICATION_REQUIRED' };
      if (cached && cached.expiresAt > Date.now()) return { expiresAt: new Date(cached.expiresAt), hasRefreshToken: false, state: 'VALID' };
    } catch (error) {
      // A status is advisory: with the store down nothing is known.
      this.deps.logger.warn({ event: 'token_status_unavailable', err: error }, 'token store unavailable for a Token Vault status');
    }
    return { expiresAt: null, hasRefreshToken: false, state: 'UNKNOWN' };
  }

  /** The cached token when it may be handed out; throws for a remembered refusal; undefined: exchange. */
  private answer(subject: VaultSubject, state: { cached?: CachedToken; refused: string | null }, rejected: string | undefined): string | undefined {
    if (state.refused) throw this.reauthentication(subject, state.refused);
    const { cached } = state;
    return cached && cached.expiresAt - CACHE_MARGIN_MS > Date.now() && cached.accessToken !== rejected ? cached.accessToken : undefined;
  }

  private async exchangeUnderLock(subject: VaultSubject, keys: ReturnType<typeof vaultKeys>, rejected: string | undefined): Promise<string> {
    const lease = await this.guard(subject, () => this.deps.lock.acquire(keys.lock, this.lockOptions()));
    if (!lease) {
      // The holder may have finished just now; its token is as good as our own.
      const cached = this.answer(subject, await this.guard(subject, () => this.readState(keys)), rejected);
      if (cached) return cached;
      throw new UpstreamUnavailableError(subject.provider, 'the Token Vault exchange could not be coordinated in time');
    }
    try {
      // Re-read under the lock: another instance may have exchanged (or been refused) while we waited.
      const state = await this.guard(subject, () => this.readState(keys));
      const cached = this.answer(subject, state, rejected);
      if (cached) return cached;
      // Dropped only while the cache still holds the refused token, never a newer one.
      if (state.sealed && state.cached?.accessToken === rejected) await this.guard(subject, () => this.deps.store.deleteIfEquals(keys.record, state.sealed!));
      return await this.exchange(subject, keys, rejected);
    } finally {
      await lease
        .release()
        .catch((error: unknown) => this.deps.logger.warn({ event: 'lock_release_failed', err: error }, 'could not release a Token Vault lock'));
    }
  }

  /** One exchange at Auth0; the answer cached (unless too short-lived, or the refused token again), a refusal remembered. */
  private async exchange(subject: VaultSubject, keys: ReturnType<typeof vaultKeys>, rejected: string | undefined): Promise<string> {
    const subjectToken = subject.subjectToken();
    if (!subjectToken) throw new UpstreamUnavailableError(subject.provider, 'no caller access token to exchange');
    const { vault, config } = this.deps;
    const where = { provider: subject.provider, connection: subject.connection };
    let outcome;
    try {
      outcome = await sendVaultExchange(this.deps.http, {
        origin: config.auth0.origin,
        clientId: vault.clientId,
        clientSecret: vault.clientSecret,
        subjectToken,
        connection: subject.connection,
        loginHint: subject.identityUserId,
      });
    } catch (error) {
      this.deps.onExchange?.(subject.provider, 'failed');
      throw error;
    }
    if (outcome.kind === 'refused') {
      this.deps.onExchange?.(subject.provider, 'refused');
      this.deps.logger.info({ event: 'token_vault_refused', ...where, reason: outcome.error }, 'Auth0 Token Vault refused the exchange');
      await this.deps.store.set(keys.refused, outcome.error, REFUSAL_TTL_MS).catch((error: unknown) => {
        this.deps.logger.warn({ event: 'token_store_failed', provider: subject.provider, err: error }, 'could not remember a Token Vault refusal');
      });
      throw this.reauthentication(subject, outcome.error);
    }
    this.deps.onExchange?.(subject.provider, 'issued');
    const cacheMs = outcome.expiresAt === null ? 0 : outcome.expiresAt - CACHE_MARGIN_MS - Date.now();
    const cacheable = cacheMs > 0 && outcome.accessToken !== rejected;
    if (cacheable) await this.write(subject, keys.record, { accessToken: outcome.accessToken, expiresAt: outcome.expiresAt! }, cacheMs);
    this.deps.logger.info(
      { event: 'token_vault_exchanged', ...where, cached: cacheable },
      'exchanged the caller token for a provider token at Auth0 Token Vault',
    );
    return outcome.accessToken;
  }

  /** Caches an answer, sealed and bound to its key; a failed write costs only a later exchange. */
  private async write(subject: VaultSubject, key: string, token: CachedToken, ttlMs: number): Promise<void> {
    try {
      await this.deps.store.set(key, this.deps.sealer.seal(JSON.stringify(token), key), ttlMs);
    } catch (error) {
      this.deps.logger.warn({ event: 'token_store_failed', provider: subject.provider, err: error }, 'could not cache a Token Vault token');
    }
  }

  /** The cached answer (with its sealed form, for compare-and-delete) and the refusal marker, in one round trip. */
  private async readState(keys: ReturnType<typeof vaultKeys>): Promise<{ cached?: CachedToken; sealed: string | null; refused: string | null }> {
    const [sealed = null, refused = null] = await this.deps.store.getMany([keys.record, keys.refused]);
    const opened = sealed ? this.deps.sealer.open(sealed, keys.record) : undefined;
    return { cached: opened ? (JSON.parse(opened) as CachedToken) : undefined, sealed, refused };
  }

  /**
   * A short lease renewed while the holder lives, held at most for one exchange with its retries;
   * waiters wait that long plus one lease, but never past their request's deadline.
   */
  private lockOptions(): { leaseMs: number; maxHoldMs: number; waitMs: number } {
    const { timeoutMs, maxRetries, requestTimeoutMs } = this.deps.config.upstream;
    const maxHoldMs = (maxRetries + 1) * timeoutMs;
    return { leaseMs: LOCK_LEASE_MS, maxHoldMs, waitMs: waitWithinDeadline(maxHoldMs + LOCK_LEASE_MS, requestTimeoutMs) };
  }

  private reauthentication(subject: VaultSubject, reason: string): ReauthenticationRequiredError {
    return reauthenticationRequired(this.deps.policies, subject, reason);
  }

  /** Runs a store operation; its failure is UPSTREAM_UNAVAILABLE for the subject's provider. */
  private guard<T>(subject: VaultSubject, operation: () => Promise<T>): Promise<T> {
    return guardStore(this.deps.logger, subject, operation);
  }
}
