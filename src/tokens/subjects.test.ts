import { describe, expect, it } from 'vitest';
import type { ConnectionDirectory } from '../auth0/connections.js';
import type { Auth0Connection } from '../auth0/types.js';
import type { IdentityTokens } from '../auth0/user-record.js';
import type { UserDirectory } from '../auth0/users.js';
import type { SharedStore } from '../store/store.js';
import { Sealer } from '../store/sealing.js';
import { adminTokenSubject, adminTokensOf, auth0TokensOfIdentity, identitySubject, identitySubjectKey, vaultSubjectKey, type IdentityRef } from './subjects.js';
import { TokenStore } from './token-store.js';

// identitySubjectKey is the broker's key of an identity's tokens. It holds the ids in clear by
// design: it is what the token store hashes (TokenBroker: "hashed before it reaches the store";
// README: "keys are hashes, so no user id or token appears in Redis"). So it must tell every
// identity apart — tokens of one user or connection must never be served for another — and the
// store keys derived from it must not contain any of the ids. The same holds for the keys of
// Token Vault identities (kept apart from the identities[] key of the same identity) and of
// enterprise connections' admin tokens (one per connection). An identity subject reads from Auth0
// the tokens of exactly its identity: same connection and same identity id.

const REF: IdentityRef = { userId: 'auth0|alice', provider: 'google-oauth2', connection: 'google-oauth2', identityUserId: '1234567' };

describe('identitySubjectKey', () => {
  it('is stable', () => {
    expect(identitySubjectKey(REF)).toBe(identitySubjectKey({ ...REF }));
  });

  it('tells apart users, connections and identities', () => {
    const base = identitySubjectKey(REF);
    expect(identitySubjectKey({ ...REF, userId: 'auth0|bob' })).not.toBe(base);
    expect(identitySubjectKey({ ...REF, connection: 'google-work' })).not.toBe(base);
    expect(identitySubjectKey({ ...REF, identityUserId: '7654321' })).not.toBe(base);
  });

  it('does not depend on the provider (one identity, one key)', () => {
    const withOtherProvider: IdentityRef = { ...REF, provider: 'other' };
    expect(identitySubjectKey(withOtherProvider)).toBe(identitySubjectKey(REF));
  });

  it('cannot be confused by ids that contain separators Auth0 uses (|, :, -)', () => {
    const keys = new Set([
      identitySubjectKey({ userId: 'a|b', connection: 'c', identityUserId: 'd' }),
      identitySubjectKey({ userId: 'a', connection: 'b|c', identityUserId: 'd' }),
      identitySubjectKey({ userId: 'a', connection: 'b', identityUserId: 'c|d' }),
      identitySubjectKey({ userId: 'a:b', connection: 'c', identityUserId: 'd' }),
      identitySubjectKey({ userId: 'a', connection: 'b:c', identityUserId: 'd' }),
      identitySubjectKey({ userId: 'ab', connection: 'c', identityUserId: 'd' }),
      identitySubjectKey({ userId: 'a', connection: 'bc', identityUserId: 'd' }),
    ]);
    expect(keys.size).toBe(7);
  });

  it('is a different namespace from connection (admin token) subjects', () => {
    const connections = {} as ConnectionDirectory;
    const admin = adminTokenSubject(connections, { id: 'con_1', name: 'corp', strategy: 'waad' });
    expect(admin.key).not.toBe(identitySubjectKey({ userId: 'con_1', connection: '', identityUserId: '' }));
    expect(identitySubjectKey(REF).startsWith('identity\u0000')).toBe(true);
    expect(admin.key.startsWith('identity')).toBe(false);
  });
});

describe('vaultSubjectKey', () => {
  it('tells apart users, connections and identities', () => {
    const keys = new Set([
      vaultSubjectKey(REF),
      vaultSubjectKey({ ...REF, userId: 'auth0|bob' }),
      vaultSubjectKey({ ...REF, connection: 'google-work' }),
      vaultSubjectKey({ ...REF, identityUserId: '7654321' }),
    ]);
    expect(keys.size).toBe(4);
    expect(vaultSubjectKey({ ...REF })).toBe(vaultSubjectKey(REF));
  });

  it("keeps an identity's Token Vault tokens apart from its identities[] tokens", () => {
    expect(vaultSubjectKey(REF)).not.toBe(identitySubjectKey(REF));
  });
});

describe('adminTokenSubject', () => {
  const connections = {} as ConnectionDirectory;

  it('has one key per connection, by its id', () => {
    const corp = adminTokenSubject(connections, { id: 'con_1', name: 'corp', strategy: 'waad' });
    const partner = adminTokenSubject(connections, { id: 'con_2', name: 'partner', strategy: 'waad' });
    expect(partner.key).not.toBe(corp.key);
    expect(adminTokenSubject(connections, { id: 'con_1', name: 'corp-renamed', strategy: 'waad' }).key).toBe(corp.key);
    expect(corp).toMatchObject({ provider: 'waad', connection: 'corp' });
  });

  it('is a different namespace from Token Vault subjects', () => {
    const admin = adminTokenSubject(connections, { id: 'con_1', name: 'corp', strategy: 'waad' });
    expect(admin.key).not.toBe(vaultSubjectKey({ userId: 'con_1', connection: '', identityUserId: '' }));
  });
});

describe('identitySubject.readAuth0', () => {
  function tokensOf(connection: string, identityUserId: string, accessToken: string): IdentityTokens {
    return { userId: REF.userId, provider: 'google-oauth2', connection, identityUserId, accessToken, tokensStoredAt: null };
  }

  function usersHolding(tokens: IdentityTokens[]): UserDirectory {
    return { loadFreshWithTokens: async () => ({ record: {}, tokens }) } as unknown as UserDirectory;
  }

  it('reads the tokens of its own identity, not of another account linked on the same connection', async () => {
    const users = usersHolding([tokensOf('google-oauth2', '7654321', 'at-other-account'), tokensOf('google-oauth2', '1234567', 'at-own')]);
    await expect(identitySubject(users, REF).readAuth0()).resolves.toMatchObject({ accessToken: 'at-own' });
  });

  it('reads the tokens of its own connection, not of another connection with the same identity id', async () => {
    const users = usersHolding([tokensOf('google-work', '1234567', 'at-other-connection'), tokensOf('google-oauth2', '1234567', 'at-own')]);
    await expect(identitySubject(users, REF).readAuth0()).resolves.toMatchObject({ accessToken: 'at-own' });
  });

  it('holds nothing when Auth0 has no tokens for its identity', async () => {
    const users = usersHolding([tokensOf('google-work', '1234567', 'at-a'), tokensOf('google-oauth2', '7654321', 'at-b')]);
    await expect(identitySubject(users, REF).readAuth0()).resolves.toBeUndefined();
  });
});

describe('store keys of an identity subject', () => {
  // Only key derivation is used: a store that takes subscriptions and nothing else.
  const unusedStore = { subscribe: () => undefined } as unknown as SharedStore;
  const store = new TokenStore(unusedStore, Sealer.ephemeral());

  it('contain no user id, connection name or identity id in clear', () => {
    const ref = { userId: 'google-oauth2|109876543210', connection: 'corp-google', identityUserId: '109876543210' };
    const keys = store.keys(identitySubjectKey(ref));
    for (const key of Object.values(keys)) {
      expect(key).not.toContain('109876543210');
      expect(key).not.toContain('google-oauth2');
      expect(key).not.toContain('corp-google');
      expect(key).not.toContain('|');
      expect(key).not.toContain('\u0000');
    }
    expect(keys.record).toMatch(/^token:\{[A-Za-z0-9_-]{24}\}$/);
  });

  it('differ per identity and share one hash tag per identity', () => {
    const alice = store.keys(identitySubjectKey(REF));
    const bob = store.keys(identitySubjectKey({ ...REF, userId: 'auth0|bob' }));
    expect(bob.record).not.toBe(alice.record);
    const tag = (key: string) => /\{(.*)\}/.exec(key)?.[1];
    expect(new Set([alice.record, alice.lock, alice.dead, alice.recheck].map(tag)).size).toBe(1);
    expect(new Set([alice.record, alice.lock, alice.dead, alice.recheck]).size).toBe(4);
  });
});

describe('auth0TokensOfIdentity', () => {
  const base: IdentityTokens = {
    userId: 'auth0|alice',
    provider: 'google-oauth2',
    connection: 'google-oauth2',
    identityUserId: '1234567',
    accessToken: 'at',
    refreshToken: 'rt',
    expiresIn: 3600,
    tokensStoredAt: '2030-01-01T11:30:00.000Z',
  };

  it('estimates the expiry as storage time plus expires_in seconds', () => {
    expect(auth0TokensOfIdentity(base)).toEqual({
      accessToken: 'at',
      refreshToken: 'rt',
      expiresAt: Date.parse('2030-01-01T11:30:00.000Z') + 3_600_000,
    });
  });

  it('knows no expiry without expires_in or a usable storage time', () => {
    expect(auth0TokensOfIdentity({ ...base, expiresIn: undefined }).expiresAt).toBeNull();
    expect(auth0TokensOfIdentity({ ...base, tokensStoredAt: null }).expiresAt).toBeNull();
    expect(auth0TokensOfIdentity({ ...base, tokensStoredAt: 'not a date' }).expiresAt).toBeNull();
    expect(auth0TokensOfIdentity({ ...base, tokensStoredAt: '' }).expiresAt).toBeNull();
  });

  it('treats expires_in 0 as known', () => {
    expect(auth0TokensOfIdentity({ ...base, expiresIn: 0 }).expiresAt).toBe(Date.parse('2030-01-01T11:30:00.000Z'));
  });

  it('passes absent tokens on as absent', () => {
    const tokens = auth0TokensOfIdentity({ ...base, accessToken: undefined, refreshToken: undefined });
    expect(tokens.accessToken).toBeUndefined();
    expect(tokens.refreshToken).toBeUndefined();
  });
});

describe('adminTokensOf', () => {
  function connection(options?: Record<string, unknown>): Auth0Connection {
    return { id: 'con_1', name: 'corp', strategy: 'waad', ...(options === undefined ? {} : { options }) };
  }

  it('reads the admin tokens and the ISO expiry (not seconds)', () => {
    expect(
      adminTokensOf(connection({ admin_access_token: 'at', admin_refresh_token: 'rt', admin_access_token_expiresin: '2030-01-01T13:00:00.000Z' })),
    ).toEqual({ accessToken: 'at', refreshToken: 'rt', expiresAt: Date.parse('2030-01-01T13:00:00.000Z') });
  });

  it('is undefined when the connection holds no admin token', () => {
    expect(adminTokensOf(connection())).toBeUndefined();
    expect(adminTokensOf(connection({}))).toBeUndefined();
    expect(adminTokensOf(connection({ admin_access_token_expiresin: '2030-01-01T13:00:00.000Z' }))).toBeUndefined();
    expect(adminTokensOf(connection({ admin_access_token: '', admin_refresh_token: '' }))).toBeUndefined();
  });

  it('ignores token fields that are not strings', () => {
    expect(adminTokensOf(connection({ admin_access_token: 42, admin_refresh_token: { token: 'x' } }))).toBeUndefined();
    expect(adminTokensOf(connection({ admin_access_token: ['at'], admin_refresh_token: 'rt' }))).toEqual({
      accessToken: undefined,
      refreshToken: 'rt',
      expiresAt: null,
    });
  });

  it('knows no expiry when it is missing or unparsable', () => {
    expect(adminTokensOf(connection({ admin_access_token: 'at' }))?.expiresAt).toBeNull();
    expect(adminTokensOf(connection({ admin_access_token: 'at', admin_access_token_expiresin: 'soon' }))?.expiresAt).toBeNull();
    expect(adminTokensOf(connection({ admin_access_token: 'at', admin_access_token_expiresin: null }))?.expiresAt).toBeNull();
  });

  it('keeps a refresh token alone (an expired admin token can still be renewed)', () => {
    expect(adminTokensOf(connection({ admin_refresh_token: 'rt' }))).toEqual({ accessToken: undefined, refreshToken: 'rt', expiresAt: null });
  });
});
