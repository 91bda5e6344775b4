import { LRUCache } from 'lru-cache';
import type { GatewayConfig } from '../config.js';
import { ConfigurationError, GatewayError, ProviderRateLimitedError, ReauthenticationRequiredError, UpstreamUnavailableError } from '../errors.js';
import { waitWithinDeadline } from '../http/request-stats.js';
import type { UpstreamClient } from '../http/upstream.js';
import type { Logger } from '../logger.js';
import { SingleFlight, type DistributedLock } from '../store/lock.js';
import type { TokenPolicy } from './policy.js';
import { fingerprint, isUsable, recordFromAuth0, type Auth0Tokens, type TokenRecord } from './record.js';
import { guardStore, reauthenticationRequired } from './outcomes.js';
import { sendRefreshGrant } from './refresh-grant.js';
import { statusOf, type TokenStatus } from './status.js';
import type { TokenStore } from './token-store.js';
import type { TokenVault, VaultSubject } from './token-vault.js';

/** Something that holds provider tokens: a user's identity, or a connection's admin tokens. */
export interface TokenSubject {
  /** Stable key of the subject (hashed before it reaches the store). */
  key: string;
  /** The Auth0 strategy, e.g. `google-oauth2`; selects the refresh policy. */
  provider: string;
  connection: string;
  /** What Auth0 holds now, read past every cache; undefined when it holds no token. */
  readAuth0(): Promise<Auth0Tokens | undefined>;
  /** Set when the token comes from Auth0 Token Vault's exchange instead (the caller's own identity on a vault connection). */
  vault?: VaultSubject;
}

/** What the broker needs. */
export interface TokenBrokerDeps {
  config: GatewayConfig;
  tokens: TokenStore;
  lock: DistributedLock;
  policies: readonly TokenPolicy[];
  /** The Auth0 connection's options, cached (provider app credentials, token URLs). */
  connectionOptions: (connection: string) => Promise<Record<string, unknown>>;
  /** The HTTP client for a provider's token endpoint. */
  httpFor: (provider: string) => UpstreamClient;
  logger: Logger;
  /** Where the tokens of Token Vault subjects come from; undefined when TOKEN_VAULT_CONNECTIONS is unset. */
  vault?: TokenVault;
  /** Counts refresh outcomes (metrics). */
  onRefresh?: (provider: string, outcome: 'renewed' | 'dead' | 'failed') => void;
  /** Counts renewals that met a spent refresh token whose earlier renewal's outcome never arrived (metrics). */
  onSpendUnknown?: (provider: string, outcome: 'adopted' | 'replayed' | 'deferred') => void;
}

// How long a subject whose grant was refused is answered from memory of that (burst protection),
// and how often meanwhile Auth0 is looked at for a new sign-in (so a user who just signed in
// again is not sent round the loop once more).
const DEAD_TTL_MS = 60_000;
const RECHECK_INTERVAL_MS = 5_000;
// The renewal lock's lease: a holder renews it every third of it while it lives, so a holder that
// died (SIGKILL, lost host) holds the others up for at most this long.
const LOCK_LEASE_MS = 5_000;
// How many upstream calls a renewal may make while it holds the lock, each bounded by the upstream
// timeout: the connection's options, the grant, and Auth0 read again when the grant is refused.
const UPSTREAM_CALLS_PER_RENEWAL = 3;
// A replay within a provider's reuse grace keeps this much of it in hand (clock skew between
// instances, the time the grant takes), and at most a fifth of a short grace.
const GRACE_MARGIN_MS = 60_000;

/**
 * Hands out valid provider access tokens with the fewest upstream calls correctness allows.
 *
 * A token comes from the token store, else from Auth0 (adopted into the store). When it is about
 * to expire, or a provider just rejected it, it is renewed once: concurrent callers in this
 * process share one promise, and instances share a lock in the store (a short lease renewed by a
 * heartbeat, so a holder that died frees it within seconds); whoever gets the lock re-reads the
 * record and the dead marker first and renews only if nobody did meanwhile. A refresh token that
 * may rotate is recorded as spent before it is sent, so a successor of a holder that died
 * mid-grant never replays it blindly (see `beforeSpending`). A renewed record (with a
 * rotated refresh token, or the old one kept when the provider sends none) is stored before the
 * new access token is handed out. When the provider refuses the grant, Auth0 is read again past
 * every cache: if it holds a different pair the user signed in again and that pair is adopted;
 * only otherwise is the subject dead (REAUTHENTICATION_REQUIRED), remembered for a minute. A
 * store or lock failure is UPSTREAM_UNAVAILABLE, never a reason to re-authenticate. Subjects whose
 * token comes from Auth0 Token Vault (`subject.vault`) are served by the TokenVault instead.
 */
export class TokenBroker {
  private readonly flight = new SingleFlight<string | null>();
  private readonly rechecks = new SingleFlight<boolean>();

  /** Spends already logged as deferred (subject and spend time), so a burst logs one line. */
  private readonly deferralsLogged = new LRUCache<string, true>({ max: 10_000 });

  constructor(private readonly deps: TokenBrokerDeps) {}

  /** A valid access token for the subject; null when Auth0 holds no token for it at all. */
  async validAccessToken(subject: TokenSubject, options: { rejected?: string } = {}): Promise<string | null> {
    if (subject.vault) return this.vaultFor(subject).validAccessToken(subject.vault, options);
    // A token a provider just refused is read past every local copy.
    const state = await this.guard(subject, () => this.deps.tokens.readState(subject.key, { fresh: options.rejected !== undefined }));
    if (state.dead && !(await this.rechecks.run(subject.key, () => this.signedInAgain(subject)))) throw this.reauthentication(subject, state.dead);
    // A dead subject that signed in again has a new record since the read above.
    const stored = state.dead ? await this.guard(subject, () => this.deps.tokens.read(subject.key)) : state.record;
    const record = stored ?? (await this.loadFromAuth0(subject));
    if (!record) return null;
    if (isUsable(record) && record.accessToken !== options.rejected) return record.accessToken;
    return this.flight.run(`renew:${subject.key}`, () => this.renewUnderLock(subject, options.rejected));
  }

  /** What the broker knows about the subject's token, renewing nothing; undefined when it knows nothing yet. */
  async status(subject: TokenSubject): Promise<TokenStatus | undefined> {
    if (subject.vault) return this.vaultFor(subject).status(subject.vault);
    try {
      const { record, dead } = await this.deps.tokens.readState(subject.key);
      if (!record) return dead ? { expiresAt: null, hasRefreshToken: false, state: 'REAUTHENTICATION_REQUIRED' } : undefined;
      const status = statusOf({
        hasAccessToken: Boolean(record.accessToken),
        hasRefreshToken: Boolean(record.refreshToken),
        expiresAt: record.expiresAt,
        canRenew: Boolean(this.policy(subject)?.refreshEndpoint),
      });
      return dead ? { ...status, state: 'REAUTHENTICATION_REQUIRED' } : status;
    } catch (error) {
      // A status is advisory: with the store down the caller falls back to what Auth0 says.
      this.deps.logger.warn({ event: 'token_status_unavailable', err: error }, 'token store unavailable for a status');
      return undefined;
    }
  }

  /**
   * Takes in tokens Auth0 returned (from any Management API read). A pair we already adopted is
   * ignored (our record, refreshed since, is newer); a different pair means the user signed in
   * again, so it replaces the record and lifts a dead marker.
   */
  async adopt(subjectKey: string, tokens: Auth0Tokens): Promise<void> {
    if (!tokens.accessToken && !tokens.refreshToken) return;
    const current = await this.deps.tokens.read(subjectKey);
    if (current?.auth0 === fingerprint(tokens)) return;
    if (current) await this.adoptNewSignIn(subjectKey, tokens);
    else await this.deps.tokens.write(subjectKey, recordFromAuth0(tokens));
  }

  /** Whether Auth0 holds a pair other than the one `record` was adopted from: the user signed in again. */
  private isNewSignIn(fresh: Auth0Tokens | undefined, record: TokenRecord | undefined): fresh is Auth0Tokens {
    return Boolean(fresh && (fresh.accessToken || fresh.refreshToken) && fingerprint(fresh) !== record?.auth0);
  }

  /** Replaces the record with the pair of a newer sign-in and lifts any dead marker. */
  private async adoptNewSignIn(subjectKey: string, fresh: Auth0Tokens): Promise<TokenRecord> {
    const adopted = recordFromAuth0(fresh);
    await this.deps.tokens.write(subjectKey, adopted);
    await this.deps.tokens.clearDead(subjectKey);
    this.deps.logger.info({ event: 'tokens_adopted_after_relogin' }, 'Auth0 holds the tokens of a newer sign-in; adopted them');
    return adopted;
  }

  /**
   * For a dead subject: whether Auth0 now holds a pair we have not adopted (the user signed in
   * again), in which case it is adopted and the dead marker lifted. Asked at most once per
   * interval per subject across instances; a failed look leaves the subject dead.
   */
  private async signedInAgain(subject: TokenSubject): Promise<boolean> {
    if (!(await this.guard(subject, () => this.deps.tokens.claimRecheck(subject.key, RECHECK_INTERVAL_MS)))) return false;
    const [fresh, record] = await Promise.all([subject.readAuth0().catch(() => undefined), this.guard(subject, () => this.deps.tokens.read(subject.key))]);
    if (!this.isNewSignIn(fresh, record)) return false;
    await this.guard(subject, () => this.adoptNewSignIn(subject.key, fresh));
    return true;
  }

  private async loadFromAuth0(subject: TokenSubject): Promise<TokenRecord | undefined> {
    const tokens = await subject.readAuth0();
    if (!tokens || (!tokens.accessToken && !tokens.refreshToken)) return undefined;
    try {
      await this.adopt(subject.key, tokens);
      return (await this.deps.tokens.read(subject.key)) ?? recordFromAuth0(tokens);
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      // The store is unreachable: Auth0's own pair still answers (using it renews nothing).
      this.deps.logger.warn({ event: 'token_store_failed', provider: subject.provider, err: error }, 'token store unavailable');
      return recordFromAuth0(tokens);
    }
  }

  private async renewUnderLock(subject: TokenSubject, rejected: string | undefined): Promise<string | null> {
    let lease;
    try {
      lease = await this.deps.lock.acquire(this.deps.tokens.keys(subject.key).lock, this.lockOptions());
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      return this.renewWithoutStore(subject, rejected, error);
    }
    if (!lease) {
      // The holder may have finished just now; a renewed token is as good as our own.
      const record = await this.guard(subject, () => this.deps.tokens.read(subject.key));
      if (record && isUsable(record) && record.accessToken !== rejected) return record.accessToken;
      throw new UpstreamUnavailableError(subject.provider, 'the token refresh could not be coordinated in time');
    }
    try {
      // Re-read under the lock, past every local copy: another instance may have renewed while we
      // waited, or found the grant refused (the dead marker), and must not be second-guessed.
      const state = await this.guard(subject, () => this.deps.tokens.readState(subject.key, { fresh: true }));
      if (state.dead && !(await this.rechecks.run(subject.key, () => this.signedInAgain(subject)))) throw this.reauthentication(subject, state.dead);
      const record = state.dead ? await this.guard(subject, () => this.deps.tokens.read(subject.key)) : state.record;
      if (!record) return this.loadFromAuth0(subject).then((loaded) => loaded?.accessToken ?? null);
      if (isUsable(record) && record.accessToken !== rejected) return record.accessToken;
      return await this.refresh(subject, record, false);
    } finally {
      // The spend marker covers what the lock no longer did; this says the lock was too short.
      if (!lease.held)
        this.deps.logger.warn(
          { event: 'token_lock_lost', provider: subject.provider, connection: subject.connection },
          'a token lock ran out while its renewal was running',
        );
      await lease.release().catch((error: unknown) => this.deps.logger.warn({ event: 'lock_release_failed', err: error }, 'could not release a token lock'));
    }
  }

  /**
   * A short lease renewed while this instance lives, and a live holder's longest hold (every
   * upstream call of a renewal timing out); waiters wait that long plus one lease, but never past
   * their request's deadline (REQUEST_TIMEOUT_MS): a request that cannot wait for the holder gets
   * UPSTREAM_UNAVAILABLE in time, and the holder's renewal serves the requests after it.
   */
  private lockOptions(): { leaseMs: number; maxHoldMs: number; waitMs: number } {
    const maxHoldMs = UPSTREAM_CALLS_PER_RENEWAL * this.deps.config.upstream.timeoutMs;
    return { leaseMs: LOCK_LEASE_MS, maxHoldMs, waitMs: waitWithinDeadline(maxHoldMs + LOCK_LEASE_MS, this.deps.config.upstream.requestTimeoutMs) };
  }

  /**
   * Renewal while the store is unreachable (no lock to coordinate instances with): only from a
   * record this process holds, under its in-process single flight, and only for providers that
   * never rotate the refresh token. The renewed record is kept unsaved and written back when the
   * store answers again. A renewal that may rotate is refused: the new refresh token would exist in
   * this process only, and the old one would be spent.
   */
  private async renewWithoutStore(subject: TokenSubject, rejected: string | undefined, cause: unknown): Promise<string | null> {
    this.deps.logger.warn({ event: 'token_store_failed', provider: subject.provider, err: cause }, 'token store unavailable; renewing without it if safe');
    const unavailable = (detail: string) => new UpstreamUnavailableError(subject.provider, detail);
    const state = await this.deps.tokens.readState(subject.key).catch(() => undefined);
    const record = state?.record;
    if (!record) throw unavailable('the token store is unavailable');
    if (isUsable(record) && record.accessToken !== rejected) return record.accessToken;
    if (this.policy(subject)?.rotatesRefreshToken !== false) throw unavailable('the token store is unavailable, and renewing would rotate the refresh token');
    return this.refresh(subject, record, false);
  }

  /** Renews with the record's refresh token; on refusal, recovers from a re-login or declares the subject dead. */
  private async refresh(subject: TokenSubject, record: TokenRecord, afterRelogin: boolean): Promise<string> {
    const policy = this.policy(subject);
    if (!record.refreshToken || !policy?.refreshEndpoint) return this.recoverOrDie(subject, record, 'no_refresh_token', afterRelogin);
    const endpoint = await policy.refreshEndpoint({
      config: this.deps.config,
      connection: subject.connection,
      connectionOptions: () => this.deps.connectionOptions(subject.connection),
    });
    const rotates = policy.rotatesRefreshToken !== false;
    if (rotates) {
      const adopted = await this.beforeSpending(subject, record, policy, afterRelogin);
      if (adopted !== undefined) return adopted;
    }
    let outcome;
    try {
      outcome = await sendRefreshGrant(this.deps.httpFor(subject.provider), subject.provider, endpoint, record.refreshToken);
    } catch (error) {
      this.deps.onRefresh?.(subject.provider, 'failed');
      // Refused before the token was looked at: it is not spent. A timeout or a 5xx may have spent it.
      if (rotates && (error instanceof ConfigurationError || error instanceof ProviderRateLimitedError)) await this.forgetSpend(subject, record.refreshToken);
      throw error;
    }
    if (outcome.kind === 'rejected') return this.recoverOrDie(subject, record, outcome.error, afterRelogin);
    const now = Date.now();
    const renewed: TokenRecord = {
      accessToken: outcome.accessToken,
      // A response without a refresh token never erases the one we hold (Google never rotates).
      refreshToken: outcome.refreshToken ?? record.refreshToken,
      expiresAt: outcome.expiresIn ? now + outcome.expiresIn * 1000 : null,
      exactExpiry: Boolean(outcome.expiresIn),
      auth0: record.auth0,
      updatedAt: now,
    };
    // Stored before use: a rotated refresh token must never exist only in this process.
    await this.writeRenewed(subject, renewed);
    // The same refresh token came back (no rotation after all): it may be sent again at once.
    if (rotates && renewed.refreshToken === record.refreshToken) await this.forgetSpend(subject, record.refreshToken);
    this.deps.onRefresh?.(subject.provider, 'renewed');
    this.deps.logger.info(
      {
        event: 'token_refreshed',
        provider: subject.provider,
        connection: subject.connection,
        rotated: Boolean(outcome.refreshToken && outcome.refreshToken !== record.refreshToken),
      },
      'provider token renewed',
    );
    return outcome.accessToken;
  }

  /**
   * Before a refresh token that may rotate is sent: records the spend in the store (a fingerprint
   * and the time, never the token). When an earlier spend of the same token is recorded, its sender
   * died or never got the answer, and the provider may already have rotated the token: sending it
   * blindly could trip reuse detection (RFC 9700), which revokes the whole token family. Then, in
   * order: a newer pair in Auth0 (a sign-in meanwhile) is adopted; within the provider's documented
   * reuse grace the token is sent again (safe there); otherwise the answer is UPSTREAM_UNAVAILABLE,
   * never REAUTHENTICATION_REQUIRED, until the marker expires. Without a grace the marker lives as
   * long as a live holder could still store that spend's answer; after it, the token is sent once
   * more: it works if the provider never took it, and is refused (the user must sign in again, as
   * the rotated pair died with its sender) if it did. Returns an access token only when it adopted one.
   */
  private async beforeSpending(subject: TokenSubject, record: TokenRecord, policy: TokenPolicy, afterRelogin: boolean): Promise<string | undefined> {
    const graceMs = policy.reuseGraceMs ?? 0;
    const { leaseMs, maxHoldMs } = this.lockOptions();
    const markerTtlMs = graceMs > 0 ? graceMs : maxHoldMs + leaseMs;
    const spentAt = await this.guard(subject, () => this.deps.tokens.recordSpend(subject.key, record.refreshToken!, markerTtlMs));
    if (spentAt === null) return undefined;
    const where = { provider: subject.provider, connection: subject.connection };
    // Auth0 is looked at no more than every few seconds per subject, across instances.
    if (!afterRelogin && (await this.guard(subject, () => this.deps.tokens.claimRecheck(subject.key, RECHECK_INTERVAL_MS)))) {
      const fresh = await subject.readAuth0().catch(() => undefined);
      if (this.isNewSignIn(fresh, record)) {
        const adopted = await this.guard(subject, () => this.adoptNewSignIn(subject.key, fresh));
        this.deps.onSpendUnknown?.(subject.provider, 'adopted');
        return isUsable(adopted) ? adopted.accessToken! : this.refresh(subject, adopted, true);
      }
    }
    const ageMs = Date.now() - spentAt;
    if (ageMs < graceMs - Math.min(GRACE_MARGIN_MS, graceMs / 5)) {
      this.deps.onSpendUnknown?.(subject.provider, 'replayed');
      this.deps.logger.warn(
        { event: 'token_refresh_replayed_within_grace', ...where, spentMsAgo: ageMs },
        'an earlier renewal with this refresh token never stored its answer; sending it again within the provider reuse grace',
      );
      return undefined;
    }
    const retryInMs = Math.max(0, spentAt + markerTtlMs - Date.now());
    this.deps.onSpendUnknown?.(subject.provider, 'deferred');
    // Once per spend and process: every request meets the same marker until it expires.
    const logKey = `${subject.key}:${spentAt}`;
    if (!this.deferralsLogged.has(logKey)) {
      this.deferralsLogged.set(logKey, true);
      this.deps.logger.warn(
        { event: 'token_refresh_inflight_unknown', ...where, spentMsAgo: ageMs, retryInMs },
        'an earlier renewal with this refresh token never stored its answer; not sending it again before the marker expires',
      );
    }
    throw new UpstreamUnavailableError(subject.provider, `an earlier token renewal's outcome is unknown; retrying in about ${Math.ceil(retryInMs / 1000)} s`);
  }

  /** Forgets a recorded spend; best effort (a marker left behind only delays a renewal until it expires). */
  private async forgetSpend(subject: TokenSubject, refreshToken: string): Promise<void> {
    await this.deps.tokens.forgetSpend(subject.key, refreshToken).catch((error: unknown) => {
      this.deps.logger.warn({ event: 'token_store_failed', provider: subject.provider, err: error }, 'could not forget a refresh-token spend');
    });
  }

  private async recoverOrDie(subject: TokenSubject, record: TokenRecord, reason: string, afterRelogin: boolean): Promise<string> {
    if (!afterRelogin) {
      const fresh = await subject.readAuth0();
      if (this.isNewSignIn(fresh, record)) {
        const adopted = await this.guard(subject, () => this.adoptNewSignIn(subject.key, fresh));
        if (isUsable(adopted)) return adopted.accessToken!;
        return this.refresh(subject, adopted, true);
      }
    }
    await this.guard(subject, async () => {
      await this.deps.tokens.markDead(subject.key, reason, DEAD_TTL_MS);
      // We just looked at Auth0; the next look may wait an interval.
      await this.deps.tokens.claimRecheck(subject.key, RECHECK_INTERVAL_MS);
    });
    this.deps.onRefresh?.(subject.provider, 'dead');
    this.deps.logger.info({ event: 'token_dead', provider: subject.provider, connection: subject.connection, reason }, 'provider token cannot be renewed');
    throw this.reauthentication(subject, reason);
  }

  private async writeRenewed(subject: TokenSubject, record: TokenRecord): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.tokens.write(subject.key, record);
        return;
      } catch (error) {
        if (attempt >= 3) {
          // Never lost: kept in memory, answering for the subject, written back when the store answers.
          this.deps.tokens.keepUnsaved(subject.key, record);
          this.deps.logger.error(
            { event: 'renewed_token_not_stored', provider: subject.provider, connection: subject.connection, err: error },
            'a renewed token could not be stored; kept in memory and written again every second',
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }

  private reauthentication(subject: TokenSubject, reason: string): ReauthenticationRequiredError {
    return reauthenticationRequired(this.deps.policies, subject, reason);
  }

  /** The Token Vault source; a vault subject without one is a wiring mistake, reported as such. */
  private vaultFor(subject: TokenSubject): TokenVault {
    if (!this.deps.vault) throw new ConfigurationError(subject.provider, 'a Token Vault identity, but Token Vault is not configured');
    return this.deps.vault;
  }

  private policy(subject: TokenSubject): TokenPolicy | undefined {
    return this.deps.policies.find((policy) => policy.strategies.includes(subject.provider));
  }

  /** Runs a store operation; its failure is UPSTREAM_UNAVAILABLE for the subject's provider. */
  private guard<T>(subject: TokenSubject, operation: () => Promise<T>): Promise<T> {
    return guardStore(this.deps.logger, subject, operation);
  }
}
