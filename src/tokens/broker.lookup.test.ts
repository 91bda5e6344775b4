import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type GatewayConfig } from '../config.js';
import { ReauthenticationRequiredError, UpstreamUnavailableError } from '../errors.js';
import { withRequestStats } from '../http/request-stats.js';
import type { UpstreamClient, UpstreamRequest } from '../http/upstream.js';
import { githubTokenPolicy } from '../providers/github/token.js';
import { googleTokenPolicy } from '../providers/google/token.js';
import { DistributedLock } from '../store/lock.js';
import { MemoryStore } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';
import { TokenBroker, type TokenSubject } from './broker.js';
import { fingerprint, recordFromAuth0, type Auth0Tokens, type TokenRecord } from './record.js';
import { TokenStore } from './token-store.js';
import { logSink } from '../testing/log-sink.js';

// The broker's look-ups on the in-memory store with Google's real policy: what status() reports,
// tokens adopted from Auth0 (and after a re-login), Auth0's pair answering when the store fails,
// the state re-read under the renewal lock, a lock not had in time, and what the lock's lease logs.

const env = {
  AUTH0_DOMAIN: 'https://tenant.example',
  AUTH0_AUDIENCE: 'https://api',
  AUTH0_CLIENT_ID: 'm2m',
  AUTH0_CLIENT_SECRET: 'm2m-secret',
  GOOGLE_CLIENT_ID: 'google-app',
  GOOGLE_CLIENT_SECRET: 'google-secret',
  UPSTREAM_TIMEOUT_MS: '5000',
};
const config = loadConfig(env);
const KEY = 'google-oauth2|42';
/** The pair Auth0 stored at the user's sign-in. */
const LOGIN: Auth0Tokens = { accessToken: 'ya29.login', refreshToken: '1//login', expiresAt: null };

/** Google's token endpoint, renewing every grant with a numbered token and keeping what it was sent. */
function googleTokenEndpoint(onGrant: () => Promise<void> = () => Promise.resolve()) {
  const grants: UpstreamRequest[] = [];
  const http = {
    async send(request: UpstreamRequest) {
      grants.push(request);
      await onGrant();
      return { status: 200, body: { access_token: `ya29.renewed-${grants.length}`, expires_in: 3600 }, headers: {}, durationMs: 1, attempts: 1 };
    },
  } as unknown as UpstreamClient;
  return { http, grants };
}

/** A Google identity whose Auth0 side answers `held()` at each read, counted. */
function googleSubject(held: () => Auth0Tokens | undefined | Promise<Auth0Tokens | undefined> = () => LOGIN) {
  let auth0Reads = 0;
  const subject: TokenSubject = {
    key: KEY,
    provider: 'google-oauth2',
    connection: 'google-oauth2',
    readAuth0: async () => {
      auth0Reads += 1;
      return held();
    },
  };
  return { subject, auth0Reads: () => auth0Reads };
}

/** One gateway instance: its token store and broker on the shared store. */
function instance(store: MemoryStore, options: { sealer?: Sealer; config?: GatewayConfig; onGrant?: () => Promise<void> } = {}) {
  const log = logSink();
  const endpoint = googleTokenEndpoint(options.onGrant);
  const tokens = new TokenStore(store, options.sealer ?? Sealer.ephemeral());
  const broker = new TokenBroker({
    config: options.config ?? config,
    tokens,
    lock: new DistributedLock(store),
    policies: [googleTokenPolicy, githubTokenPolicy],
    connectionOptions: () => Promise.resolve({}),
    httpFor: () => endpoint.http,
    logger: log.logger,
  });
  return { tokens, broker, grants: endpoint.grants, lines: log.lines };
}

/** The record adopted from the sign-in pair, its access token expired an hour ago. */
function expiredLogin(): TokenRecord {
  return recordFromAuth0({ ...LOGIN, expiresAt: Date.now() - 3_600_000 });
}

/** What another instance stores after renewing the sign-in pair. */
function renewedElsewhere(accessToken = 'ya29.renewed-elsewhere'): TokenRecord {
  return {
    accessToken,
    refreshToken: LOGIN.refreshToken!,
    expiresAt: Date.now() + 3_600_000,
    exactExpiry: true,
    auth0: fingerprint(LOGIN),
    updatedAt: Date.now(),
  };
}

const events = (lines: Record<string, unknown>[]) => lines.map((line) => line.event);

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('TokenBroker.status', () => {
  it('knows nothing of a subject with neither a record nor a dead marker', async () => {
    const { broker } = instance(new MemoryStore());
    await expect(broker.status(googleSubject().subject)).resolves.toBeUndefined();
  });

  it('reports a dead subject without a record as REAUTHENTICATION_REQUIRED', async () => {
    const { broker, tokens } = instance(new MemoryStore());
    await tokens.markDead(KEY, 'invalid_grant', 60_000);
    await expect(broker.status(googleSubject().subject)).resolves.toEqual({ expiresAt: null, hasRefreshToken: false, state: 'REAUTHENTICATION_REQUIRED' });
  });

  it('judges a stored record, and a dead marker overrides it', async () => {
    const { broker, tokens } = instance(new MemoryStore());
    const record = renewedElsewhere();
    await tokens.write(KEY, record);
    const { subject } = googleSubject();
    await expect(broker.status(subject)).resolves.toEqual({ expiresAt: new Date(record.expiresAt!), hasRefreshToken: true, state: 'VALID' });
    await tokens.markDead(KEY, 'invalid_grant', 60_000);
    await expect(broker.status(subject)).resolves.toEqual({
      expiresAt: new Date(record.expiresAt!),
      hasRefreshToken: true,
      state: 'REAUTHENTICATION_REQUIRED',
    });
  });
});

describe('TokenBroker.adopt', () => {
  it('adopts a pair that holds only a refresh token', async () => {
    const { broker, tokens } = instance(new MemoryStore());
    await broker.adopt(KEY, { refreshToken: '1//only', expiresAt: null });
    expect(await tokens.read(KEY)).toMatchObject({ accessToken: null, refreshToken: '1//only' });
  });

  it('replaces the record with the pair of a newer sign-in, lifts the dead marker and logs the adoption', async () => {
    const { broker, tokens, lines } = instance(new MemoryStore());
    await tokens.write(KEY, expiredLogin());
    await tokens.markDead(KEY, 'invalid_grant', 60_000);
    await broker.adopt(KEY, { accessToken: 'ya29.relogin', refreshToken: '1//relogin', expiresAt: null });
    expect(await tokens.readState(KEY, { fresh: true })).toMatchObject({ record: { accessToken: 'ya29.relogin', refreshToken: '1//relogin' }, dead: null });
    expect(lines).toContainEqual(
      expect.objectContaining({ event: 'tokens_adopted_after_relogin', msg: 'Auth0 holds the tokens of a newer sign-in; adopted them' }),
    );
  });
});

describe('a dead subject', () => {
  it.each<[string, Auth0Tokens | undefined]>([
    ['the pair it was adopted from', LOGIN],
    ['no token at all', { expiresAt: null }],
    ['nothing', undefined],
  ])('stays dead, without a grant, while Auth0 holds %s', async (_case, held) => {
    const { broker, tokens, grants, lines } = instance(new MemoryStore());
    await tokens.write(KEY, expiredLogin());
    await tokens.markDead(KEY, 'invalid_grant', 60_000);
    const { subject, auth0Reads } = googleSubject(() => held);
    await expect(broker.validAccessToken(subject)).rejects.toBeInstanceOf(ReauthenticationRequiredError);
    expect(auth0Reads()).toBe(1);
    expect(grants).toHaveLength(0);
    expect(events(lines)).not.toContain('tokens_adopted_after_relogin');
    expect((await tokens.read(KEY))?.accessToken).toBe(LOGIN.accessToken);
  });

  it('gets the token of a newer sign-in Auth0 holds', async () => {
    const { broker, tokens, grants } = instance(new MemoryStore());
    await tokens.write(KEY, expiredLogin());
    await tokens.markDead(KEY, 'invalid_grant', 60_000);
    const { subject } = googleSubject(() => ({ accessToken: 'ya29.relogin', refreshToken: '1//relogin', expiresAt: null }));
    await expect(broker.validAccessToken(subject)).resolves.toBe('ya29.relogin');
    expect(grants).toHaveLength(0);
  });
});

describe('tokens read from Auth0', () => {
  it.each<[string, Auth0Tokens | undefined]>([
    ['nothing', undefined],
    ['no token at all', { expiresAt: null }],
  ])('are null when Auth0 holds %s', async (_case, held) => {
    const { broker, tokens, grants } = instance(new MemoryStore());
    await expect(broker.validAccessToken(googleSubject(() => held).subject)).resolves.toBeNull();
    expect(grants).toHaveLength(0);
    expect(await tokens.read(KEY)).toBeUndefined();
  });

  it('renew a pair that holds only a refresh token, with one grant', async () => {
    const { broker, tokens, grants } = instance(new MemoryStore());
    await expect(broker.validAccessToken(googleSubject(() => ({ refreshToken: '1//only', expiresAt: null })).subject)).resolves.toBe('ya29.renewed-1');
    expect(grants).toHaveLength(1);
    expect(await tokens.read(KEY)).toMatchObject({ accessToken: 'ya29.renewed-1', refreshToken: '1//only' });
  });

  it('give way to the record another instance renewed while Auth0 was read', async () => {
    const store = new MemoryStore();
    const sealer = Sealer.ephemeral();
    const here = instance(store, { sealer });
    const there = instance(store, { sealer });
    const { subject } = googleSubject(async () => {
      await there.tokens.write(KEY, renewedElsewhere());
      return LOGIN;
    });
    await expect(here.broker.validAccessToken(subject)).resolves.toBe('ya29.renewed-elsewhere');
    expect(here.grants).toHaveLength(0);
  });

  it("answer with Auth0's own pair when the store cannot take it, logged", async () => {
    const store = new MemoryStore();
    vi.spyOn(store, 'set').mockRejectedValue(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    const { broker, lines, grants } = instance(store);
    await expect(broker.validAccessToken(googleSubject().subject)).resolves.toBe(LOGIN.accessToken);
    expect(grants).toHaveLength(0);
    const line = lines.find((entry) => entry.event === 'token_store_failed');
    expect(line).toMatchObject({
      provider: 'google-oauth2',
      msg: 'token store unavailable',
      err: expect.objectContaining({ message: expect.stringContaining('ECONNREFUSED') }),
    });
  });

  it("let the contract's own error from the store through", async () => {
    const store = new MemoryStore();
    const refused = new UpstreamUnavailableError('google-oauth2', 'the token store is over its budget');
    vi.spyOn(store, 'set').mockRejectedValue(refused);
    const { broker, lines } = instance(store);
    await expect(broker.validAccessToken(googleSubject().subject)).rejects.toBe(refused);
    expect(events(lines)).not.toContain('token_store_failed');
  });
});

describe('the renewal lock', () => {
  it('cannot be had from a failing store: a token that never rotates is renewed without it', async () => {
    const store = new MemoryStore();
    const { broker, tokens, grants } = instance(store);
    await tokens.write(KEY, expiredLogin());
    vi.spyOn(store, 'setIfAbsent').mockRejectedValue(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
    await expect(broker.validAccessToken(googleSubject().subject)).resolves.toBe('ya29.renewed-1');
    expect(grants).toHaveLength(1);
  });

  it("lets the contract's own error from taking the lock through, renewing nothing", async () => {
    const store = new MemoryStore();
    const { broker, tokens, grants } = instance(store);
    await tokens.write(KEY, expiredLogin());
    const refused = new UpstreamUnavailableError('google-oauth2', 'the token store is over its budget');
    vi.spyOn(store, 'setIfAbsent').mockRejectedValue(refused);
    await expect(broker.validAccessToken(googleSubject().subject)).rejects.toBe(refused);
    expect(grants).toHaveLength(0);
  });

  /** A broker whose requests may not wait (REQUEST_TIMEOUT_MS 1), with the lock held by another instance. */
  async function lockHeldElsewhere() {
    const store = new MemoryStore();
    const here = instance(store, { config: loadConfig({ ...env, REQUEST_TIMEOUT_MS: '1' }) });
    await store.setIfAbsent(here.tokens.keys(KEY).lock, 'another-instance', 60_000);
    return { store, ...here };
  }

  it('not had in time: UPSTREAM_UNAVAILABLE rather than an expired token', async () => {
    const { broker, tokens, grants } = await lockHeldElsewhere();
    await tokens.write(KEY, expiredLogin());
    await expect(withRequestStats(() => broker.validAccessToken(googleSubject().subject))).rejects.toThrow(
      new UpstreamUnavailableError('google-oauth2', 'the token refresh could not be coordinated in time'),
    );
    expect(grants).toHaveLength(0);
  });

  it('not had in time: UPSTREAM_UNAVAILABLE rather than the token the provider just refused', async () => {
    const { broker, tokens, grants } = await lockHeldElsewhere();
    await tokens.write(KEY, renewedElsewhere());
    const refused = withRequestStats(() => broker.validAccessToken(googleSubject().subject, { rejected: 'ya29.renewed-elsewhere' }));
    await expect(refused).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(grants).toHaveLength(0);
  });

  it('not had in time: the token the holder renewed while this request waited answers', async () => {
    const { broker, tokens, grants, store } = await lockHeldElsewhere();
    await tokens.write(KEY, renewedElsewhere('ya29.refused'));
    const take = store.setIfAbsent.bind(store);
    vi.spyOn(store, 'setIfAbsent').mockImplementation(async (key, value, ttlMs) => {
      // The holder stores its renewal just as this request finds the lock taken.
      if (key === tokens.keys(KEY).lock) await tokens.write(KEY, renewedElsewhere('ya29.holder'));
      return take(key, value, ttlMs);
    });
    await expect(withRequestStats(() => broker.validAccessToken(googleSubject().subject, { rejected: 'ya29.refused' }))).resolves.toBe('ya29.holder');
    expect(grants).toHaveLength(0);
  });

  it('is waited for as long as a live holder may hold it (every upstream call of a renewal timing out) plus one lease', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const store = new MemoryStore();
    const { broker, tokens, grants } = instance(store);
    await tokens.write(KEY, expiredLogin());
    const lockKey = tokens.keys(KEY).lock;
    await store.setIfAbsent(lockKey, 'another-instance', 600_000);
    const take = store.setIfAbsent.bind(store);
    vi.spyOn(store, 'setIfAbsent').mockImplementation(async (key, value, ttlMs) => {
      const taken = await take(key, value, ttlMs);
      // Each look at the taken lock finds the clock five seconds on.
      if (key === lockKey && !taken) vi.setSystemTime(Date.now() + 5_000);
      return taken;
    });
    const started = Date.now();
    await expect(broker.validAccessToken(googleSubject().subject)).rejects.toBeInstanceOf(UpstreamUnavailableError);
    // 3 upstream calls × UPSTREAM_TIMEOUT_MS 5 s, plus the 5 s lease.
    expect(Date.now() - started).toBe(20_000);
    expect(grants).toHaveLength(0);
  });
});

describe('under the renewal lock', () => {
  /** Two instances on one store whose change announcements are lost: each may hold a stale hot copy. */
  async function announcementsLost() {
    const store = new MemoryStore();
    vi.spyOn(store, 'publish').mockResolvedValue();
    const sealer = Sealer.ephemeral();
    const here = instance(store, { sealer });
    const there = instance(store, { sealer });
    await there.tokens.write(KEY, expiredLogin());
    // This instance answered a status a moment ago: it holds a hot copy of the expired record.
    await expect(here.broker.status(googleSubject().subject)).resolves.toMatchObject({ state: 'EXPIRED' });
    return { here, there };
  }

  it('the state is read past the hot copy: a renewal another instance stored answers, without a grant', async () => {
    const { here, there } = await announcementsLost();
    await there.tokens.write(KEY, renewedElsewhere());
    await expect(here.broker.validAccessToken(googleSubject().subject)).resolves.toBe('ya29.renewed-elsewhere');
    expect(here.grants).toHaveLength(0);
  });

  it('a dead marker another instance set is honoured, without a grant', async () => {
    const { here, there } = await announcementsLost();
    await there.tokens.markDead(KEY, 'invalid_grant', 60_000);
    await expect(here.broker.validAccessToken(googleSubject().subject)).rejects.toBeInstanceOf(ReauthenticationRequiredError);
    expect(here.grants).toHaveLength(0);
  });

  it('a renewal that keeps its lease logs no lost lock', async () => {
    const { broker, tokens, grants, lines } = instance(new MemoryStore());
    await tokens.write(KEY, expiredLogin());
    await expect(broker.validAccessToken(googleSubject().subject)).resolves.toBe('ya29.renewed-1');
    expect(grants).toHaveLength(1);
    expect(events(lines)).toEqual(['token_refreshed']);
  });

  it('a lease that ran out while the grant was running is logged', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const store = new MemoryStore();
    const lockKey = new TokenStore(store, Sealer.ephemeral()).keys(KEY).lock;
    const { broker, tokens, lines } = instance(store, {
      onGrant: async () => {
        // The grant hangs past the lease; another instance took the lock once it ran out.
        await store.set(lockKey, 'another-instance', 60_000);
        await vi.advanceTimersByTimeAsync(2_000);
      },
    });
    await tokens.write(KEY, expiredLogin());
    await expect(broker.validAccessToken(googleSubject().subject)).resolves.toBe('ya29.renewed-1');
    expect(lines.find((line) => line.event === 'token_lock_lost')).toMatchObject({
      provider: 'google-oauth2',
      connection: 'google-oauth2',
      msg: 'a token lock ran out while its renewal was running',
    });
    expect(await store.get(lockKey)).toBe('another-instance');
  });

  it('a lock that cannot be released is logged, and the renewed token still answers', async () => {
    const store = new MemoryStore();
    vi.spyOn(store, 'deleteIfEquals').mockRejectedValue(new Error('connect ECONNRESET'));
    const { broker, tokens, lines } = instance(store);
    await tokens.write(KEY, expiredLogin());
    await expect(broker.validAccessToken(googleSubject().subject)).resolves.toBe('ya29.renewed-1');
    expect(lines.find((line) => line.event === 'lock_release_failed')).toMatchObject({
      msg: 'could not release a token lock',
      err: expect.objectContaining({ message: 'connect ECONNRESET' }),
    });
  });
});
