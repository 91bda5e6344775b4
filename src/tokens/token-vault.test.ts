import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { ReauthenticationRequiredError, UpstreamUnavailableError } from '../errors.js';
import type { UpstreamClient, UpstreamRequest } from '../http/upstream.js';
import { createLogger } from '../logger.js';
import { DistributedLock } from '../store/lock.js';
import { MemoryStore } from '../store/memory.js';
import { Sealer } from '../store/sealing.js';
import type { SharedStore } from '../store/store.js';
import { TokenVault, vaultKeys, vaultSubjectFor, type VaultSubject } from './token-vault.js';

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

function vaultWith(http: UpstreamClient, store: SharedStore = new MemoryStore()) {
  return new TokenVault({
    config,
    vault: config.tokenVault!,
    store,
    sealer: Sealer.ephemeral(),
    lock: new DistributedLock(store),
    http,
    policies: [],
    logger: createLogger('silent'),
  });
}

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
