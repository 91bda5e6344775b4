import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config.js';
import { ReauthenticationRequiredError, UpstreamUnavailableError } from '../errors.js';
import type { UpstreamClient, UpstreamRequest } from '../http/upstream.js';
import { bitbucketTokenPolicy } from '../providers/bitbucket/token.js';
import { microsoftTokenPolicy } from '../providers/microsoft/token.js';
import { DistributedLock } from '../store/lock.js';
import { MemoryStore } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';
import { TokenBroker, type TokenSubject } from './broker.js';
import type { TokenPolicy } from './policy.js';
import type { Auth0Tokens } from './record.js';
import { TokenStore } from './token-store.js';
import { logSink } from '../testing/log-sink.js';

// A renewal that meets a spend of its refresh token whose answer never arrived (the sender died
// mid-grant): a newer sign-in in Auth0 is adopted, within a provider's reuse grace the token is sent
// again, otherwise the caller gets UPSTREAM_UNAVAILABLE (with when to retry) until the marker
// expires, and only then is the token sent once more. Everything is real except the provider's token
// endpoint, Auth0 and the clock.

const config = loadConfig({
  AUTH0_DOMAIN: 'https://tenant.example',
  AUTH0_AUDIENCE: 'https://api',
  AUTH0_CLIENT_ID: 'm2m',
  AUTH0_CLIENT_SECRET: 'm2m-secret',
});

// Default UPSTREAM_TIMEOUT_MS (10 s): a live holder keeps the lock at most 3 calls × 10 s, plus a 5 s lease.
const STRICT_MARKER_MS = 3 * config.upstream.timeoutMs + 5_000;
// Bitbucket: a 10-minute grace, of which the last minute is kept in hand.
const BITBUCKET_GRACE_MS = 10 * 60_000;
const BITBUCKET_REPLAY_UNTIL_MS = BITBUCKET_GRACE_MS - 60_000;
/** A provider with a short reuse grace: a fifth of it (20 s) is kept in hand, not a minute. */
const shortGracePolicy: TokenPolicy = { ...bitbucketTokenPolicy, strategies: ['shortgrace'], reuseGraceMs: 100_000 };

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const at = (ms: number) => vi.setSystemTime(T0 + ms);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'], now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

type Answer = { status: number; body: unknown };
const renewed = (accessToken: string, refreshToken?: string): Answer => ({
  status: 200,
  body: { access_token: accessToken, expires_in: 3600, ...(refreshToken ? { refresh_token: refreshToken } : {}) },
});
const unavailable: Answer = { status: 503, body: {} };
const refused: Answer = { status: 400, body: { error: 'invalid_grant' } };

/** Auth0 as a subject sees it: the pair it holds (changed by a sign-in), and how often it was read. */
function auth0Holding(tokens: Auth0Tokens) {
  const auth0 = { tokens, reads: 0 };
  const subject = (key: string, provider: string): TokenSubject => ({
    key,
    provider,
    connection: `${provider}-conn`,
    readAuth0: async () => {
      auth0.reads += 1;
      return auth0.tokens;
    },
  });
  return { auth0, subject };
}

/** An expired pair, as Auth0 holds it after a sign-in long ago: any use renews. */
const expiredPair = (accessToken: string, refreshToken: string): Auth0Tokens => ({ accessToken, refreshToken, expiresAt: T0 - 3600_000 });

/**
 * A broker on a memory store (clocked by the fake Date), the provider's token endpoint answering
 * from `answers` (the last one repeats) and keeping the refresh tokens it was sent.
 */
function harness(answers: Answer[], { failSpendDeletes = false } = {}) {
  const store = new MemoryStore({ now: () => Date.now() });
  if (failSpendDeletes) {
    const remove = store.delete.bind(store);
    store.delete = (...keys: string[]) => (keys.some((key) => key.startsWith('spent:')) ? Promise.reject(new Error('connection refused')) : remove(...keys));
  }
  const tokens = new TokenStore(store, Sealer.ephemeral());
  const { lines, logger } = logSink();
  const sent: string[] = [];
  const http = {
    async send(request: UpstreamRequest) {
      sent.push(new URLSearchParams(String(request.body)).get('refresh_token') ?? '');
      const next = answers.length > 1 ? answers.shift()! : answers[0]!;
      return { ...next, headers: { 'content-type': 'application/json' }, durationMs: 1, attempts: 1 };
    },
  } as unknown as UpstreamClient;
  const spendOutcomes: string[] = [];
  const broker = new TokenBroker({
    config,
    tokens,
    lock: new DistributedLock(store),
    policies: [bitbucketTokenPolicy, microsoftTokenPolicy, shortGracePolicy],
    connectionOptions: async () => ({ client_id: 'app-id', client_secret: 'app-secret' }),
    httpFor: () => http,
    logger,
    onSpendUnknown: (_provider, outcome) => spendOutcomes.push(outcome),
  });
  /** Records a spend of `refreshToken` `msAgo` before now, as an instance that then died would have. */
  const spentEarlier = async (subject: TokenSubject, refreshToken: string, msAgo: number, ttlMs: number) => {
    const now = Date.now();
    vi.setSystemTime(now - msAgo);
    expect(await tokens.recordSpend(subject.key, refreshToken, ttlMs)).toBeNull();
    vi.setSystemTime(now);
  };
  const logged = (event: string) => lines.filter((line) => line.event === event);
  return { broker, tokens, sent, spendOutcomes, lines, logged, spentEarlier };
}

/** The error a renewal rejected with. */
async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected the renewal to fail');
    },
    (error: Error) => error,
  );
}

describe('TokenBroker: a spent refresh token whose answer never came', () => {
  it('strict OAuth2: defers until a live holder could no longer store the answer, then sends the token once more', async () => {
    const { auth0, subject } = auth0Holding(expiredPair('at-0', 'rt-0'));
    const waad = subject('identity-1', 'waad');
    const h = harness([unavailable, renewed('at-1', 'rt-1')]);

    // The first renewal's grant fails in a way that may have spent the token: its marker stays.
    expect(await failure(h.broker.validAccessToken(waad))).toBeInstanceOf(UpstreamUnavailableError);
    expect(h.sent).toEqual(['rt-0']);

    at(STRICT_MARKER_MS - 1_000);
    const deferred = await failure(h.broker.validAccessToken(waad));
    expect(deferred).toBeInstanceOf(UpstreamUnavailableError);
    expect(deferred.message).toBe("waad is unavailable: an earlier token renewal's outcome is unknown; retrying in about 1 s");
    expect(h.sent).toEqual(['rt-0']);
    expect(h.spendOutcomes).toEqual(['deferred']);
    expect(h.logged('token_refresh_inflight_unknown')).toEqual([
      expect.objectContaining({
        level: 40,
        provider: 'waad',
        connection: 'waad-conn',
        spentMsAgo: STRICT_MARKER_MS - 1_000,
        retryInMs: 1_000,
        msg: 'an earlier renewal with this refresh token never stored its answer; not sending it again before the marker expires',
      }),
    ]);

    // The marker expired: the token is sent once more (here the provider had never taken it).
    at(STRICT_MARKER_MS + 1_000);
    expect(await h.broker.validAccessToken(waad)).toBe('at-1');
    expect(h.sent).toEqual(['rt-0', 'rt-0']);
    expect(auth0.reads).toBe(2);
  });

  it('strict OAuth2: never replays a spent token, however recent the spend', async () => {
    const { subject } = auth0Holding(expiredPair('at-0', 'rt-0'));
    const waad = subject('identity-1', 'waad');
    const h = harness([renewed('at-1', 'rt-1')]);
    await h.spentEarlier(waad, 'rt-0', 0, STRICT_MARKER_MS);

    const deferred = await failure(h.broker.validAccessToken(waad));
    expect(deferred.message).toMatch(/retrying in about 35 s$/);
    expect(h.sent).toEqual([]);
    expect(h.logged('token_refresh_inflight_unknown')).toEqual([expect.objectContaining({ spentMsAgo: 0, retryInMs: STRICT_MARKER_MS })]);
  });

  it('Bitbucket: replays within the grace less its margin, then defers until the grace is over', async () => {
    const { subject } = auth0Holding(expiredPair('at-0', 'rt-0'));
    const bitbucket = subject('identity-2', 'bitbucket');
    const h = harness([unavailable, unavailable, unavailable, renewed('at-1', 'rt-1')]);

    expect(await failure(h.broker.validAccessToken(bitbucket))).toBeInstanceOf(UpstreamUnavailableError);
    expect(h.sent).toEqual(['rt-0']);

    // Within the grace: sent again, and said so.
    at(5 * 60_000);
    expect(await failure(h.broker.validAccessToken(bitbucket))).toBeInstanceOf(UpstreamUnavailableError);
    expect(h.sent).toEqual(['rt-0', 'rt-0']);
    expect(h.spendOutcomes).toEqual(['replayed']);
    expect(h.logged('token_refresh_replayed_within_grace')).toEqual([
      expect.objectContaining({
        level: 40,
        provider: 'bitbucket',
        connection: 'bitbucket-conn',
        spentMsAgo: 5 * 60_000,
        msg: 'an earlier renewal with this refresh token never stored its answer; sending it again within the provider reuse grace',
      }),
    ]);

    // The last minute of the grace is kept in hand: deferred until the marker (the grace) runs out.
    at(BITBUCKET_REPLAY_UNTIL_MS);
    const deferred = await failure(h.broker.validAccessToken(bitbucket));
    expect(deferred.message).toMatch(/retrying in about 60 s$/);
    at(BITBUCKET_REPLAY_UNTIL_MS + 1_000);
    expect((await failure(h.broker.validAccessToken(bitbucket))).message).toMatch(/retrying in about 59 s$/);
    expect(h.sent).toEqual(['rt-0', 'rt-0']);
    expect(h.spendOutcomes).toEqual(['replayed', 'deferred', 'deferred']);

    // The grace is over and so is the marker: the token is sent once more.
    at(BITBUCKET_GRACE_MS + 1_000);
    expect(await failure(h.broker.validAccessToken(bitbucket))).toBeInstanceOf(UpstreamUnavailableError);
    expect(h.sent).toEqual(['rt-0', 'rt-0', 'rt-0']);
  });

  it('Bitbucket: replays a spend recorded just before the margin, with a new access token for the caller', async () => {
    const { subject } = auth0Holding(expiredPair('at-0', 'rt-0'));
    const bitbucket = subject('identity-2', 'bitbucket');
    const h = harness([renewed('at-1', 'rt-1')]);
    await h.spentEarlier(bitbucket, 'rt-0', BITBUCKET_REPLAY_UNTIL_MS - 1, BITBUCKET_GRACE_MS);

    expect(await h.broker.validAccessToken(bitbucket)).toBe('at-1');
    expect(h.sent).toEqual(['rt-0']);
    expect(h.spendOutcomes).toEqual(['replayed']);
  });

  it('Bitbucket: keeps a minute of its 10-minute grace in hand, not a fifth of it', async () => {
    const { subject } = auth0Holding(expiredPair('at-0', 'rt-0'));
    const h = harness([renewed('at-1', 'rt-1')]);
    const recent = subject('identity-3', 'bitbucket');
    await h.spentEarlier(recent, 'rt-0', 8 * 60_000 + 20_000, BITBUCKET_GRACE_MS);
    // 8 min 20 s: within the grace less a minute, though past the grace less a fifth of it.
    expect(await h.broker.validAccessToken(recent)).toBe('at-1');
    expect(h.spendOutcomes).toEqual(['replayed']);
  });

  it('a short grace keeps a fifth of it in hand, not a minute', async () => {
    const { subject } = auth0Holding(expiredPair('at-0', 'rt-0'));
    const h = harness([renewed('at-1', 'rt-1')]);
    const short = subject('identity-4', 'shortgrace');
    await h.spentEarlier(short, 'rt-0', 79_000, 100_000);
    expect(await h.broker.validAccessToken(short)).toBe('at-1');
    expect(h.spendOutcomes).toEqual(['replayed']);

    const late = subject('identity-5', 'shortgrace');
    await h.spentEarlier(late, 'rt-0', 81_000, 100_000);
    expect((await failure(h.broker.validAccessToken(late))).message).toMatch(/retrying in about 19 s$/);
    expect(h.sent).toEqual(['rt-0']);
  });

  it('logs a deferral once per spend, and once for each subject', async () => {
    const { auth0, subject } = auth0Holding(expiredPair('at-0', 'rt-0'));
    const h = harness([renewed('at-1', 'rt-1')]);
    const first = subject('identity-6', 'waad');
    const second = subject('identity-7', 'waad');
    await h.spentEarlier(first, 'rt-0', 10_000, STRICT_MARKER_MS);
    await h.spentEarlier(second, 'rt-0', 10_000, STRICT_MARKER_MS);

    for (let attempt = 0; attempt < 3; attempt++) expect(await failure(h.broker.validAccessToken(first))).toBeInstanceOf(UpstreamUnavailableError);
    expect(h.logged('token_refresh_inflight_unknown')).toHaveLength(1);
    expect(await failure(h.broker.validAccessToken(second))).toBeInstanceOf(UpstreamUnavailableError);
    expect(h.logged('token_refresh_inflight_unknown')).toHaveLength(2);
    expect(h.spendOutcomes).toEqual(['deferred', 'deferred', 'deferred', 'deferred']);
    expect(h.sent).toEqual([]);
    // Auth0 was looked at for a new sign-in once per subject within the recheck interval (after each load).
    expect(auth0.reads).toBe(4);
  });

  it('adopts the pair of a sign-in made meanwhile instead of waiting for the marker', async () => {
    const { auth0, subject } = auth0Holding(expiredPair('at-0', 'rt-0'));
    const waad = subject('identity-8', 'waad');
    const h = harness([renewed('at-1', 'rt-1')]);
    // The record is taken from Auth0 first (no renewal is due while the old pair is current).
    auth0.tokens = { accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: T0 + 3600_000 };
    expect(await h.broker.validAccessToken(waad)).toBe('at-0');
    at(2 * 3600_000);
    auth0.tokens = { accessToken: 'at-new', refreshToken: 'rt-new', expiresAt: T0 + 3 * 3600_000 };

    await h.spentEarlier(waad, 'rt-0', 1_000, STRICT_MARKER_MS);
    expect(await h.broker.validAccessToken(waad)).toBe('at-new');
    expect(h.sent).toEqual([]);
    expect(h.spendOutcomes).toEqual(['adopted']);
    expect(h.logged('tokens_adopted_after_relogin')).toHaveLength(1);
    expect(auth0.reads).toBe(2);
  });

  it('renews a newly signed-in pair whose access token expired, and a refusal of it is final (Auth0 is not read again)', async () => {
    const { auth0, subject } = auth0Holding(expiredPair('at-0', 'rt-0'));
    const waad = subject('identity-9', 'waad');
    const h = harness([refused]);
    auth0.tokens = { accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: T0 + 3600_000 };
    expect(await h.broker.validAccessToken(waad)).toBe('at-0');
    at(2 * 3600_000);
    auth0.tokens = expiredPair('at-new', 'rt-new');
    await h.spentEarlier(waad, 'rt-0', 1_000, STRICT_MARKER_MS);

    expect(await failure(h.broker.validAccessToken(waad))).toBeInstanceOf(ReauthenticationRequiredError);
    expect(h.sent).toEqual(['rt-new']);
    expect(h.spendOutcomes).toEqual(['adopted']);
    expect(auth0.reads).toBe(2);
  });

  it('warns, and still answers, when a spend of a token that did not rotate cannot be forgotten', async () => {
    const { subject } = auth0Holding(expiredPair('at-0', 'rt-0'));
    const waad = subject('identity-10', 'waad');
    const h = harness([renewed('at-1')], { failSpendDeletes: true });

    expect(await h.broker.validAccessToken(waad)).toBe('at-1');
    expect(h.sent).toEqual(['rt-0']);
    expect(h.logged('token_store_failed')).toEqual([
      expect.objectContaining({
        level: 40,
        provider: 'waad',
        msg: 'could not forget a refresh-token spend',
        err: expect.objectContaining({ message: 'connection refused' }),
      }),
    ]);
  });
});
