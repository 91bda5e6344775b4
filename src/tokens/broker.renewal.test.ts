import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config.js';
import { ConfigurationError, ReauthenticationRequiredError, UpstreamUnavailableError } from '../errors.js';
import type { UpstreamClient, UpstreamRequest } from '../http/upstream.js';
import { githubTokenPolicy } from '../providers/github/token.js';
import { googleTokenPolicy } from '../providers/google/token.js';
import { DistributedLock } from '../store/lock.js';
import { MemoryStore } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';
import { TokenBroker, type TokenSubject } from './broker.js';
import { recordFromAuth0, type Auth0Tokens } from './record.js';
import { TokenStore } from './token-store.js';
import { logSink } from '../testing/log-sink.js';

// The broker's renewal on the in-memory store, with the provider's token endpoint and Auth0
// scripted: renewing while the token store is unreachable (only for providers that never rotate the
// refresh token), what a refused grant leads to (a re-login adopted, or the subject dead), and a
// renewed token the store would not take (tried three times, then kept in memory, never lost).

const config = loadConfig({
  AUTH0_DOMAIN: 'https://tenant.example',
  AUTH0_AUDIENCE: 'https://api',
  AUTH0_CLIENT_ID: 'm2m',
  AUTH0_CLIENT_SECRET: 'm2m-secret',
});
const HOUR_MS = 3_600_000;

/** A memory store that fails, on demand, every operation (`down`), the renewal locks, or the next record writes. */
class FlakyStore extends MemoryStore {
  down = false;
  failLocks = false;
  /** How many of the next writes of a token record fail. */
  recordWritesToFail = 0;
  /** Writes of a token record tried, failed ones included. */
  recordWrites = 0;

  override async get(key: string) {
    this.check(key);
    return super.get(key);
  }

  override async getMany(keys: string[]) {
    keys.forEach((key) => this.check(key));
    return super.getMany(keys);
  }

  override async set(key: string, value: string, ttlMs: number) {
    this.check(key);
    if (key.startsWith('token:')) {
      this.recordWrites++;
      if (this.recordWritesToFail > 0) {
        this.recordWritesToFail--;
        throw new Error('connection reset');
      }
    }
    return super.set(key, value, ttlMs);
  }

  override async setIfAbsent(key: string, value: string, ttlMs: number) {
    this.check(key);
    return super.setIfAbsent(key, value, ttlMs);
  }

  override async delete(...keys: string[]) {
    keys.forEach((key) => this.check(key));
    return super.delete(...keys);
  }

  private check(key: string): void {
    if (this.down || (this.failLocks && key.startsWith('lock:'))) throw new Error('connection refused');
  }
}

/** What a provider's token endpoint answers to one refresh token. */
type Answer = { status: number; body: unknown };

/**
 * A broker for one subject of `provider` with everything real but the token endpoint (answering
 * `answer(refreshToken)`) and Auth0 (holding `auth0.holds`); both count what they are asked.
 */
function harness(provider: 'google-oauth2' | 'github', answer: (refreshToken: string) => Answer) {
  const store = new FlakyStore();
  const sealer = Sealer.ephemeral();
  const tokens = new TokenStore(store, sealer);
  const { lines, logger } = logSink();
  const grants: string[] = [];
  const http = {
    async send(request: UpstreamRequest) {
      const refreshToken = new URLSearchParams(request.body).get('refresh_token')!;
      grants.push(refreshToken);
      return { ...answer(refreshToken), headers: { 'content-type': 'application/json' }, durationMs: 1, attempts: 1 };
    },
  } as unknown as UpstreamClient;
  const auth0 = { holds: undefined as Auth0Tokens | undefined, reads: 0 };
  const subject: TokenSubject = {
    key: `identity:${provider}|42`,
    provider,
    connection: provider,
    readAuth0: async () => {
      auth0.reads++;
      return auth0.holds;
    },
  };
  const broker = new TokenBroker({
    config,
    tokens,
    lock: new DistributedLock(store),
    policies: [googleTokenPolicy, githubTokenPolicy],
    connectionOptions: async () => ({ client_id: 'app', client_secret: 'app-secret' }),
    httpFor: () => http,
    logger,
  });
  stops.push(() => tokens.stop());
  /** Stores the pair Auth0 holds as the subject's record, as an earlier request would have adopted it. */
  const seed = async (tokensHeld: Auth0Tokens) => {
    auth0.holds = tokensHeld;
    await tokens.write(subject.key, recordFromAuth0(tokensHeld));
  };
  return { store, sealer, tokens, lines, grants, auth0, subject, broker, seed };
}

const stops: (() => void)[] = [];
afterEach(() => {
  stops.splice(0).forEach((stop) => stop());
  vi.useRealTimers();
});

const renewed = (accessToken: string, refreshToken?: string): Answer => ({
  status: 200,
  body: { access_token: accessToken, expires_in: 3600, ...(refreshToken ? { refresh_token: refreshToken } : {}) },
});
const refused: Answer = { status: 400, body: { error: 'invalid_grant' } };
const expired = () => Date.now() - 1000;
const fresh = () => Date.now() + HOUR_MS;

describe('TokenBroker while the token store cannot coordinate a renewal', () => {
  it('renews a token the provider rejected in-process for a provider that never rotates refresh tokens (Google), and logs why', async () => {
    const { store, lines, grants, subject, broker, seed } = harness('google-oauth2', () => renewed('at-2'));
    await seed({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: fresh() });
    store.failLocks = true;

    await expect(broker.validAccessToken(subject, { rejected: 'at-1' })).resolves.toBe('at-2');

    expect(grants).toEqual(['rt-1']);
    expect(lines).toContainEqual(
      expect.objectContaining({ event: 'token_store_failed', provider: 'google-oauth2', msg: 'token store unavailable; renewing without it if safe' }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ event: 'token_refreshed', provider: 'google-oauth2', rotated: false }));
  });

  it('refuses to renew for a provider that rotates refresh tokens (GitHub): UPSTREAM_UNAVAILABLE, no grant sent', async () => {
    const { store, grants, subject, broker, seed } = harness('github', () => renewed('at-2', 'rt-2'));
    await seed({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: expired() });
    store.failLocks = true;

    const failure = broker.validAccessToken(subject);

    await expect(failure).rejects.toBeInstanceOf(UpstreamUnavailableError);
    await expect(failure).rejects.toThrow('github is unavailable: the token store is unavailable, and renewing would rotate the refresh token');
    expect(grants).toEqual([]);
  });

  it('answers UPSTREAM_UNAVAILABLE, renewing nothing, when it holds no record of the subject', async () => {
    const { store, grants, auth0, subject, broker } = harness('google-oauth2', () => renewed('at-2'));
    auth0.holds = { accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: expired() };
    // The store answers the first read (no record), then goes away before Auth0's pair is adopted.
    subject.readAuth0 = async () => {
      store.down = true;
      return auth0.holds;
    };

    const failure = broker.validAccessToken(subject);

    await expect(failure).rejects.toBeInstanceOf(UpstreamUnavailableError);
    await expect(failure).rejects.toThrow(/^google-oauth2 is unavailable: the token store is unavailable$/);
    expect(grants).toEqual([]);
  });

  it('adopts a newer sign-in from Auth0 when the in-process renewal is refused', async () => {
    const { store, grants, auth0, subject, broker, seed } = harness('google-oauth2', () => refused);
    await seed({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: expired() });
    store.failLocks = true;
    auth0.holds = { accessToken: 'at-relogin', refreshToken: 'rt-relogin', expiresAt: fresh() };

    await expect(broker.validAccessToken(subject)).resolves.toBe('at-relogin');

    expect(grants).toEqual(['rt-1']);
    expect(auth0.reads).toBe(1);
  });
});

describe('TokenBroker renewing a refresh token that may rotate', () => {
  it('does not send a refresh token again whose earlier spend has no known outcome (GitHub)', async () => {
    const { tokens, grants, subject, broker, seed } = harness('github', () => renewed('at-2', 'rt-2'));
    await seed({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: expired() });
    // An instance that died mid-grant recorded the spend and never stored the answer.
    await tokens.recordSpend(subject.key, 'rt-1', 60_000);

    await expect(broker.validAccessToken(subject)).rejects.toThrow(/an earlier token renewal's outcome is unknown/);

    expect(grants).toEqual([]);
  });

  it('stores and logs a rotated refresh token', async () => {
    const { tokens, lines, grants, subject, broker, seed } = harness('github', () => renewed('at-2', 'rt-2'));
    await seed({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: expired() });

    await expect(broker.validAccessToken(subject)).resolves.toBe('at-2');

    expect(grants).toEqual(['rt-1']);
    expect((await tokens.read(subject.key))?.refreshToken).toBe('rt-2');
    expect(lines).toContainEqual(expect.objectContaining({ event: 'token_refreshed', provider: 'github', connection: 'github', rotated: true }));
  });
});

describe('TokenBroker when the provider refuses a renewal', () => {
  it('adopts the pair of a newer sign-in and renews it when its access token has expired too', async () => {
    const { grants, auth0, subject, broker, seed } = harness('google-oauth2', (refreshToken) => (refreshToken === 'rt-1' ? refused : renewed('at-3')));
    await seed({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: expired() });
    auth0.holds = { accessToken: 'at-relogin', refreshToken: 'rt-relogin', expiresAt: expired() };

    await expect(broker.validAccessToken(subject)).resolves.toBe('at-3');

    expect(grants).toEqual(['rt-1', 'rt-relogin']);
    expect(auth0.reads).toBe(1);
  });

  it('declares the subject dead when the newer sign-in is refused too, reading Auth0 only once, and logs it', async () => {
    const { lines, grants, auth0, subject, broker, seed } = harness('google-oauth2', () => refused);
    await seed({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: expired() });
    auth0.holds = { accessToken: 'at-relogin', refreshToken: 'rt-relogin', expiresAt: expired() };

    await expect(broker.validAccessToken(subject)).rejects.toBeInstanceOf(ReauthenticationRequiredError);

    expect(grants).toEqual(['rt-1', 'rt-relogin']);
    expect(auth0.reads).toBe(1);
    expect(lines).toContainEqual(
      expect.objectContaining({
        event: 'token_dead',
        provider: 'google-oauth2',
        connection: 'google-oauth2',
        reason: 'invalid_grant',
        msg: 'provider token cannot be renewed',
      }),
    );
  });
});

describe('TokenBroker when the store does not take a renewed token', () => {
  it('tries the write three times, then keeps the token in memory, hands it out and logs renewed_token_not_stored', async () => {
    const { store, sealer, tokens, lines, subject, broker, seed } = harness('google-oauth2', () => renewed('at-2'));
    await seed({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: expired() });
    store.recordWrites = 0;
    // The fourth write would succeed: the broker must have stopped at three.
    store.recordWritesToFail = 3;

    await expect(broker.validAccessToken(subject)).resolves.toBe('at-2');

    expect(store.recordWrites).toBe(3);
    expect(tokens.unsavedCount).toBe(1);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        event: 'renewed_token_not_stored',
        provider: 'google-oauth2',
        connection: 'google-oauth2',
        msg: 'a renewed token could not be stored; kept in memory and written again every second',
      }),
    );
    // Never lost: the write-back stores it once the store takes writes again (another instance reads it).
    await tokens.writeBack();
    expect(tokens.unsavedCount).toBe(0);
    expect((await new TokenStore(store, sealer).read(subject.key))?.accessToken).toBe('at-2');
  });

  it('stores the renewed token when a later attempt succeeds, waiting 50 ms, then 100 ms between attempts', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { store, tokens, subject, broker, seed } = harness('google-oauth2', () => renewed('at-2'));
    await seed({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: expired() });
    store.recordWrites = 0;
    store.recordWritesToFail = 2;

    const token = broker.validAccessToken(subject);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.recordWrites).toBe(1);
    await vi.advanceTimersByTimeAsync(49);
    expect(store.recordWrites).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(store.recordWrites).toBe(2);
    await vi.advanceTimersByTimeAsync(99);
    expect(store.recordWrites).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(store.recordWrites).toBe(3);

    await expect(token).resolves.toBe('at-2');
    expect(tokens.unsavedCount).toBe(0);
    expect((await tokens.read(subject.key))?.accessToken).toBe('at-2');
  });
});

describe('TokenBroker with a Token Vault subject', () => {
  it('reports a configuration error when Token Vault is not configured', async () => {
    const { subject, broker } = harness('google-oauth2', () => renewed('at-2'));
    const vaultSubject: TokenSubject = {
      ...subject,
      vault: { userId: 'google-oauth2|42', provider: 'google-oauth2', connection: 'google-oauth2', identityUserId: '42', subjectToken: () => 'caller-token' },
    };

    const failure = broker.validAccessToken(vaultSubject);

    await expect(failure).rejects.toBeInstanceOf(ConfigurationError);
    await expect(failure).rejects.toThrow('The gateway is misconfigured for google-oauth2: a Token Vault identity, but Token Vault is not configured');
  });
});
