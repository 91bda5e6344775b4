import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config.js';
import { ReauthenticationRequiredError, UpstreamUnavailableError } from '../errors.js';
import type { UpstreamClient, UpstreamRequest } from '../http/upstream.js';
import { createLogger } from '../logger.js';
import { DistributedLock, type LockOptions } from '../store/lock.js';
import { MemoryStore } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';
import type { SharedStore } from '../store/store.js';
import { TokenVault, vaultKeys, vaultSubjectFor, type TokenVaultDeps, type VaultSubject } from './token-vault.js';
import { logSink } from '../testing/log-sink.js';

// The Token Vault source on the in-memory store, with Auth0's token endpoint scripted: which
// identities use it, one exchange per cached token, the refused token dropped, refusals remembered,
// and a store that fails never turning into a reconnect prompt.

const config = loadConfig({
  AUTH0_DOMAIN: 'https://tenant.example',
  AUTH0_AUDIENCE: 'https://api',
  AUTH0_CLIENT_ID: 'm2m',
  AUTH0_CLIENT_SECRET: 'm2m-secret',
  TOKEN_VAULT_CONNECTIONS: 'google-oauth2',
  TOKEN_VAULT_CLIENT_ID: 'vault-client',
  TOKEN_VAULT_CLIENT_SECRET: 'vault-secret',
});
const identity = { userId: 'google-oauth2|42', provider: 'google-oauth2', connection: 'google-oauth2', identityUserId: '42' };
const subject: VaultSubject = { ...identity, subjectToken: () => 'caller-token' };

/** Auth0's token endpoint, answering from a script and keeping what it was sent. */
function scriptedAuth0(...answers: { status: number; body: unknown }[]) {
  const sent: UpstreamRequest[] = [];
  const http = {
    async send(request: UpstreamRequest) {
      sent.push(request);
      const next = answers.length > 1 ? answers.shift()! : answers[0]!;
      return { ...next, headers: {}, durationMs: 1, attempts: 1 };
    },
  } as unknown as UpstreamClient;
  return { http, sent };
}

function vaultWith(http: UpstreamClient, store: SharedStore = new MemoryStore(), deps: Partial<TokenVaultDeps> = {}) {
  return new TokenVault({
    config,
    vault: config.tokenVault!,
    store,
    sealer: Sealer.ephemeral(),
    lock: new DistributedLock(store),
    http,
    policies: [],
    logger: createLogger('silent'),
    ...deps,
  });
}

/** A memory store whose `method` fails for keys starting with `prefix`, and that counts compare-and-deletes. */
function storeFailing(method: 'set' | 'deleteIfEquals' | 'getMany' | 'none', prefix = '') {
  const store = new MemoryStore({ now: () => Date.now() });
  const deletes: string[] = [];
  const original = { set: store.set.bind(store), deleteIfEquals: store.deleteIfEquals.bind(store), getMany: store.getMany.bind(store) };
  Object.assign(store, {
    set: (key: string, value: string, ttlMs: number) =>
      method === 'set' && key.startsWith(prefix) ? Promise.reject(new Error('connection refused')) : original.set(key, value, ttlMs),
    deleteIfEquals: (key: string, value: string) => {
      deletes.push(key);
      return method === 'deleteIfEquals' && key.startsWith(prefix) ? Promise.reject(new Error('connection refused')) : original.deleteIfEquals(key, value);
    },
    getMany: (keys: string[]) => (method === 'getMany' ? Promise.reject(new Error('connection refused')) : original.getMany(keys)),
  });
  return { store, deletes };
}

/** Puts a token into the vault's cache as an earlier exchange would have, expiring at `expiresAt`. */
async function cacheToken(store: SharedStore, sealer: Sealer, accessToken: string, expiresAt: number): Promise<void> {
  const { record } = vaultKeys(identity);
  await store.set(record, sealer.seal(JSON.stringify({ accessToken, expiresAt }), record), 3600_000);
}

/** Log lines with the given event, as level, message and fields. */
const logged = (lines: Record<string, unknown>[], event: string) => lines.filter((line) => line.event === event);

const issued = (token: string, seconds = 3600) => ({ status: 200, body: { access_token: token, expires_at: Math.floor(Date.now() / 1000) + seconds } });

describe('vaultSubjectFor', () => {
  const token = () => 'caller-token';

  it("applies to the caller's own identity on a listed connection", () => {
    expect(vaultSubjectFor(config.tokenVault, { sub: identity.userId, accessToken: token }, identity)).toMatchObject(identity);
  });

  it('never to another user, a connection not listed, without a caller token or without Token Vault', () => {
    expect(vaultSubjectFor(config.tokenVault, { sub: 'partner@clients', accessToken: token }, identity)).toBeUndefined();
    expect(vaultSubjectFor(config.tokenVault, { sub: identity.userId, accessToken: token }, { ...identity, connection: 'github' })).toBeUndefined();
    expect(vaultSubjectFor(config.tokenVault, { sub: identity.userId, accessToken: undefined }, identity)).toBeUndefined();
    expect(vaultSubjectFor(undefined, { sub: identity.userId, accessToken: token }, identity)).toBeUndefined();
  });

  it('keeps the caller token out of anything serialized', () => {
    const vault = vaultSubjectFor(config.tokenVault, { sub: identity.userId, accessToken: token }, identity);
    expect(JSON.stringify(vault)).not.toContain('caller-token');
  });
});

describe('vaultKeys', () => {
  it('share one hash tag and name neither the user nor the connection', () => {
    const keys = vaultKeys(identity);
    for (const key of [keys.record, keys.lock, keys.refused]) {
      expect(key).toContain(`{${keys.tag}}`);
      expect(key).not.toMatch(/42|google/);
    }
    expect(vaultKeys({ ...identity, identityUserId: '43' }).tag).not.toBe(keys.tag);
  });

  it('keep the format every instance of a rolling deploy shares: a 24-character tag', () => {
    const keys = vaultKeys(identity);
    expect(keys.record).toMatch(/^vault:token:\{[\w-]{24}\}$/);
    expect(keys.lock).toBe(`lock:vault:{${keys.tag}}`);
    expect(keys.refused).toBe(`refused:vault:{${keys.tag}}`);
  });
});

describe('TokenVault', () => {
  it('exchanges once and serves the cached token after, concurrent callers included', async () => {
    const auth0 = scriptedAuth0(issued('ya29.first'));
    const vault = vaultWith(auth0.http);
    const tokens = await Promise.all(Array.from({ length: 5 }, () => vault.validAccessToken(subject)));
    expect(new Set(tokens)).toEqual(new Set(['ya29.first']));
    expect(await vault.validAccessToken(subject)).toBe('ya29.first');
    expect(auth0.sent).toHaveLength(1);
    const form = new URLSearchParams(auth0.sent[0]!.body);
    expect(auth0.sent[0]!.url).toBe('https://tenant.example/oauth/token');
    expect(form.get('subject_token')).toBe('caller-token');
    expect(form.get('login_hint')).toBe('42');
    expect(form.get('client_secret')).toBe('vault-secret');
  });

  it('does not cache a token with less than a minute to live', async () => {
    const auth0 = scriptedAuth0(issued('ya29.short', 30));
    const vault = vaultWith(auth0.http);
    expect(await vault.validAccessToken(subject)).toBe('ya29.short');
    expect(await vault.validAccessToken(subject)).toBe('ya29.short');
    expect(auth0.sent).toHaveLength(2);
    expect((await vault.status(subject)).state).toBe('UNKNOWN');
  });

  it('drops a refused token and exchanges once more, and not for a refusal of an older token', async () => {
    const auth0 = scriptedAuth0(issued('ya29.first'), issued('ya29.second'));
    const vault = vaultWith(auth0.http);
    await vault.validAccessToken(subject);
    expect(await vault.validAccessToken(subject, { rejected: 'ya29.first' })).toBe('ya29.second');
    expect(await vault.validAccessToken(subject, { rejected: 'ya29.first' })).toBe('ya29.second');
    expect(auth0.sent).toHaveLength(2);
  });

  it('shows VALID with the expiry while a token is cached, and never exchanges for a status', async () => {
    const auth0 = scriptedAuth0(issued('ya29.first'));
    const vault = vaultWith(auth0.http);
    expect(await vault.status(subject)).toEqual({ expiresAt: null, hasRefreshToken: false, state: 'UNKNOWN' });
    expect(auth0.sent).toHaveLength(0);
    await vault.validAccessToken(subject);
    const status = await vault.status(subject);
    expect(status.state).toBe('VALID');
    expect(status.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 3500_000);
  });

  it('remembers a refusal: REAUTHENTICATION_REQUIRED naming the connection, without asking Auth0 again', async () => {
    const auth0 = scriptedAuth0({ status: 401, body: { error: 'federated_connection_refresh_token_not_found' } });
    const vault = vaultWith(auth0.http);
    for (let i = 0; i < 3; i++) {
      const error = await vault.validAccessToken(subject).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReauthenticationRequiredError);
      expect((error as ReauthenticationRequiredError).extensions).toMatchObject({
        connection: 'google-oauth2',
        reason: 'federated_connection_refresh_token_not_found',
        authorizeParams: { connection: 'google-oauth2' },
      });
    }
    expect(auth0.sent).toHaveLength(1);
    expect((await vault.status(subject)).state).toBe('REAUTHENTICATION_REQUIRED');
  });

  it('is UPSTREAM_UNAVAILABLE, never REAUTHENTICATION_REQUIRED, while the store fails', async () => {
    const auth0 = scriptedAuth0(issued('ya29.first'));
    const failing = new MemoryStore();
    const broken = () => Promise.reject(new Error('connection refused'));
    Object.assign(failing, { get: broken, getMany: broken, set: broken, setIfAbsent: broken });
    const vault = vaultWith(auth0.http, failing);
    await expect(vault.validAccessToken(subject)).rejects.toBeInstanceOf(UpstreamUnavailableError);
    expect(auth0.sent).toHaveLength(0);
    expect((await vault.status(subject)).state).toBe('UNKNOWN');
  });
});

describe('TokenVault, at the edges', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Freezes the clock on a whole second, so an `expires_at` in seconds lands exactly. */
  function freezeClock(): number {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-01-01T00:00:00.000Z'));
    return Date.now();
  }

  it('exchanges separately for two users at once, each getting their own token', async () => {
    const sent: string[] = [];
    const http = {
      async send(request: UpstreamRequest) {
        const hint = new URLSearchParams(request.body).get('login_hint')!;
        sent.push(hint);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return { ...issued(`ya29.for-${hint}`), headers: {}, durationMs: 1, attempts: 1 };
      },
    } as unknown as UpstreamClient;
    const vault = vaultWith(http);
    const other: VaultSubject = { ...subject, userId: 'google-oauth2|43', identityUserId: '43' };
    expect(await Promise.all([vault.validAccessToken(subject), vault.validAccessToken(other)])).toEqual(['ya29.for-42', 'ya29.for-43']);
    expect(sent.sort()).toEqual(['42', '43']);
  });

  it('shows VALID only while the cached token has not expired, to the millisecond, without warnings', async () => {
    const now = freezeClock();
    const { store } = storeFailing('none');
    const sealer = Sealer.ephemeral();
    const { lines, logger } = logSink();
    const vault = vaultWith(scriptedAuth0(issued('unused')).http, store, { sealer, logger });
    expect((await vault.status(subject)).state).toBe('UNKNOWN');
    await cacheToken(store, sealer, 'ya29.cached', now);
    expect((await vault.status(subject)).state).toBe('UNKNOWN');
    await cacheToken(store, sealer, 'ya29.cached', now + 1);
    expect(await vault.status(subject)).toEqual({ expiresAt: new Date(now + 1), hasRefreshToken: false, state: 'VALID' });
    expect(lines.filter((line) => line.level === 40)).toEqual([]);
  });

  it('warns and shows UNKNOWN when the store cannot answer a status', async () => {
    const { store } = storeFailing('getMany');
    const { lines, logger } = logSink();
    const vault = vaultWith(scriptedAuth0(issued('unused')).http, store, { logger });
    expect(await vault.status(subject)).toEqual({ expiresAt: null, hasRefreshToken: false, state: 'UNKNOWN' });
    expect(logged(lines, 'token_status_unavailable')).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'token store unavailable for a Token Vault status',
        err: expect.objectContaining({ message: 'connection refused' }),
      }),
    ]);
  });

  it('serves a cached token only while more than a minute of it is left', async () => {
    const now = freezeClock();
    const { store } = storeFailing('none');
    const sealer = Sealer.ephemeral();
    const auth0 = scriptedAuth0(issued('ya29.fresh'));
    const vault = vaultWith(auth0.http, store, { sealer });
    await cacheToken(store, sealer, 'ya29.cached', now + 60_001);
    expect(await vault.validAccessToken(subject)).toBe('ya29.cached');
    expect(auth0.sent).toHaveLength(0);
    await cacheToken(store, sealer, 'ya29.cached', now + 60_000);
    expect(await vault.validAccessToken(subject)).toBe('ya29.fresh');
    expect(auth0.sent).toHaveLength(1);
  });

  it('never serves a refused token again, even when its replacement is too short-lived to cache', async () => {
    const auth0 = scriptedAuth0(issued('ya29.first'), issued('ya29.short', 30), issued('ya29.third'));
    const { store, deletes } = storeFailing('none');
    const vault = vaultWith(auth0.http, store);
    expect(await vault.validAccessToken(subject)).toBe('ya29.first');
    expect(await vault.validAccessToken(subject, { rejected: 'ya29.first' })).toBe('ya29.short');
    expect(await vault.validAccessToken(subject)).toBe('ya29.third');
    expect(auth0.sent).toHaveLength(3);
    // The refused token was dropped once; nothing else of the cache was.
    expect(deletes.filter((key) => key === vaultKeys(identity).record)).toHaveLength(1);
  });

  it('leaves a newer cached token alone when an older one is refused', async () => {
    const now = freezeClock();
    const { store, deletes } = storeFailing('none');
    const sealer = Sealer.ephemeral();
    const auth0 = scriptedAuth0(issued('ya29.short', 30));
    const vault = vaultWith(auth0.http, store, { sealer });
    await cacheToken(store, sealer, 'ya29.newer', now + 30_000);
    expect(await vault.validAccessToken(subject, { rejected: 'ya29.older' })).toBe('ya29.short');
    expect(deletes).not.toContain(vaultKeys(identity).record);
  });

  it('does not cache the refused token when Auth0 hands it back again', async () => {
    const auth0 = scriptedAuth0(issued('ya29.first'));
    const { lines, logger } = logSink();
    const vault = vaultWith(auth0.http, new MemoryStore(), { logger });
    await vault.validAccessToken(subject);
    expect(await vault.validAccessToken(subject, { rejected: 'ya29.first' })).toBe('ya29.first');
    expect(await vault.validAccessToken(subject)).toBe('ya29.first');
    expect(auth0.sent).toHaveLength(3);
    expect(logged(lines, 'token_vault_exchanged').map((line) => line.cached)).toEqual([true, false, true]);
  });

  it('does not cache a token that expires exactly at the end of the margin', async () => {
    const now = freezeClock();
    const auth0 = scriptedAuth0(issued('ya29.edge', 60));
    const vault = vaultWith(auth0.http, new MemoryStore({ now: () => Date.now() }));
    expect(await vault.validAccessToken(subject)).toBe('ya29.edge');
    expect(Date.now()).toBe(now);
    expect((await vault.status(subject)).state).toBe('UNKNOWN');
  });

  it('logs each exchange with the provider and connection, and whether it was cached', async () => {
    const { lines, logger } = logSink();
    const vault = vaultWith(scriptedAuth0(issued('ya29.first')).http, new MemoryStore(), { logger });
    await vault.validAccessToken(subject);
    expect(logged(lines, 'token_vault_exchanged')).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'exchanged the caller token for a provider token at Auth0 Token Vault',
        provider: 'google-oauth2',
        connection: 'google-oauth2',
        cached: true,
      }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('ya29.first');
  });

  it('still answers, warning, when the token cannot be cached; the next request exchanges again', async () => {
    const auth0 = scriptedAuth0(issued('ya29.first'));
    const { store } = storeFailing('set', 'vault:token:');
    const { lines, logger } = logSink();
    const vault = vaultWith(auth0.http, store, { logger });
    expect(await vault.validAccessToken(subject)).toBe('ya29.first');
    expect(await vault.validAccessToken(subject)).toBe('ya29.first');
    expect(auth0.sent).toHaveLength(2);
    expect(logged(lines, 'token_store_failed')[0]).toMatchObject({ level: 40, provider: 'google-oauth2', msg: 'could not cache a Token Vault token' });
  });

  it('is REAUTHENTICATION_REQUIRED, warning, when a refusal cannot be remembered', async () => {
    const auth0 = scriptedAuth0({ status: 401, body: { error: 'federated_connection_refresh_token_not_found' } });
    const { store } = storeFailing('set', 'refused:');
    const { lines, logger } = logSink();
    const vault = vaultWith(auth0.http, store, { logger });
    await expect(vault.validAccessToken(subject)).rejects.toBeInstanceOf(ReauthenticationRequiredError);
    expect(logged(lines, 'token_store_failed')).toEqual([
      expect.objectContaining({ level: 40, provider: 'google-oauth2', msg: 'could not remember a Token Vault refusal' }),
    ]);
  });

  it('still answers, warning, when the exchange lock cannot be released', async () => {
    const { store } = storeFailing('deleteIfEquals', 'lock:');
    const { lines, logger } = logSink();
    const vault = vaultWith(scriptedAuth0(issued('ya29.first')).http, store, { logger });
    expect(await vault.validAccessToken(subject)).toBe('ya29.first');
    expect(logged(lines, 'lock_release_failed')).toEqual([
      expect.objectContaining({ level: 40, msg: 'could not release a Token Vault lock', err: expect.objectContaining({ message: 'connection refused' }) }),
    ]);
  });

  it('is UPSTREAM_UNAVAILABLE without asking Auth0 when there is no caller token', async () => {
    const auth0 = scriptedAuth0(issued('ya29.first'));
    const vault = vaultWith(auth0.http);
    const error = await vault.validAccessToken({ ...subject, subjectToken: () => undefined }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect((error as Error).message).toBe('google-oauth2 is unavailable: no caller access token to exchange');
    expect(auth0.sent).toHaveLength(0);
  });

  it("takes the lock holder's token when the lock is not had in time, else is UPSTREAM_UNAVAILABLE", async () => {
    const store = new MemoryStore();
    const sealer = Sealer.ephemeral();
    const auth0 = scriptedAuth0(issued('ya29.mine'));
    const busy = { acquire: () => Promise.resolve(undefined) } as unknown as DistributedLock;
    const vault = vaultWith(auth0.http, store, { sealer, lock: busy });
    const error = await vault.validAccessToken(subject).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamUnavailableError);
    expect((error as Error).message).toBe('google-oauth2 is unavailable: the Token Vault exchange could not be coordinated in time');
    await cacheToken(store, sealer, 'ya29.holders', Date.now() + 3600_000);
    const finishing = { acquire: () => Promise.resolve(undefined) } as unknown as DistributedLock;
    expect(await vaultWith(auth0.http, store, { sealer, lock: finishing }).validAccessToken(subject)).toBe('ya29.holders');
    expect(auth0.sent).toHaveLength(0);
  });

  it('holds the exchange lock for one exchange with its retries, and waits that plus one lease', async () => {
    const slow = loadConfig({
      AUTH0_DOMAIN: 'https://tenant.example',
      AUTH0_AUDIENCE: 'https://api',
      AUTH0_CLIENT_ID: 'm2m',
      AUTH0_CLIENT_SECRET: 'm2m-secret',
      TOKEN_VAULT_CONNECTIONS: 'google-oauth2',
      TOKEN_VAULT_CLIENT_ID: 'vault-client',
      TOKEN_VAULT_CLIENT_SECRET: 'vault-secret',
      UPSTREAM_TIMEOUT_MS: '2000',
      UPSTREAM_MAX_RETRIES: '1',
    });
    const store = new MemoryStore();
    const real = new DistributedLock(store);
    const seen: { key: string; options: LockOptions }[] = [];
    const lock = {
      acquire: (key: string, options: LockOptions) => {
        seen.push({ key, options });
        return real.acquire(key, options);
      },
    } as unknown as DistributedLock;
    const vault = vaultWith(scriptedAuth0(issued('ya29.first')).http, store, { config: slow, vault: slow.tokenVault!, lock });
    await vault.validAccessToken(subject);
    expect(seen).toEqual([{ key: vaultKeys(identity).lock, options: { leaseMs: 5_000, maxHoldMs: 4_000, waitMs: 9_000 } }]);
  });
});
