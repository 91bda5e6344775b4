import { describe, expect, it } from 'vitest';
import type { Auth0User } from './types.js';
import { toUserRecord } from './user-record.js';

// toUserRecord splits a Management API user into the record that may be cached (in memory or
// Redis) and the provider tokens, which only the token broker may keep (sealed). The record must
// never carry a token; ids are always strings; identities keep Auth0's order, primary first.

const SECRETS = ['ya29.google-access-secret', '1//google-refresh-secret', 'EAAB-facebook-access-secret', 'twitter-oauth1-secret', 'gho_github-access-secret'];

function user(overrides: Partial<Auth0User> = {}): Auth0User {
  return {
    user_id: 'google-oauth2|109876543210',
    email: 'ada@example.com',
    name: 'Ada Lovelace',
    picture: 'https://example.com/ada.png',
    last_login: '2030-01-01T10:00:00.000Z',
    updated_at: '2030-01-01T11:00:00.000Z',
    identities: [
      {
        provider: 'google-oauth2',
        user_id: '109876543210',
        connection: 'google-oauth2',
        isSocial: true,
        access_token: 'ya29.google-access-secret',
        refresh_token: '1//google-refresh-secret',
        expires_in: 3599,
        profileData: { locale: 'en' },
      },
      {
        provider: 'facebook',
        user_id: '10160000000000000',
        connection: 'facebook',
        isSocial: true,
        access_token: 'EAAB-facebook-access-secret',
        expires_in: 5183999,
      },
      {
        provider: 'twitter',
        user_id: '777',
        connection: 'twitter',
        isSocial: true,
        access_token: 'twitter-oauth1-access-secret',
        access_token_secret: 'twitter-oauth1-secret',
      },
      { provider: 'github', user_id: 1234567, connection: 'github', isSocial: true, access_token: 'gho_github-access-secret' },
    ],
    ...overrides,
  };
}

describe('toUserRecord: no secrets in the cached record', () => {
  it('keeps no token, token secret or refresh token anywhere in the record', () => {
    for (const withTokens of [true, false]) {
      const { record } = toUserRecord(user(), withTokens);
      const json = JSON.stringify(record);
      for (const secret of [...SECRETS, 'twitter-oauth1-access-secret']) expect(json).not.toContain(secret);
      expect(json).not.toMatch(/access_token|refresh_token|accessToken"|refreshToken"/);
    }
  });

  it('keeps only the listed fields of each identity', () => {
    const { record } = toUserRecord(user(), true);
    for (const identity of record.identities) {
      expect(Object.keys(identity).sort()).toEqual(['connection', 'expiresIn', 'isSocial', 'profileData', 'provider', 'tokens', 'userId']);
    }
    expect(Object.keys(record).sort()).toEqual(['email', 'id', 'identities', 'name', 'picture', 'tokensStoredAt']);
  });

  it('ignores fields Auth0 adds that the record does not know', () => {
    const extra = { ...user(), app_metadata: { secret: 'app-secret' }, user_metadata: { pin: 'pin-9911' } } as Auth0User;
    const json = JSON.stringify(toUserRecord(extra, true).record);
    expect(json).not.toContain('app-secret');
    expect(json).not.toContain('pin-9911');
  });

  it('records only whether tokens exist', () => {
    const { record } = toUserRecord(user(), true);
    expect(record.identities.map((identity) => identity.tokens)).toEqual([
      { hasAccessToken: true, hasRefreshToken: true },
      { hasAccessToken: true, hasRefreshToken: false },
      { hasAccessToken: true, hasRefreshToken: false },
      { hasAccessToken: true, hasRefreshToken: false },
    ]);
  });
});

describe('toUserRecord: the tokens, separately', () => {
  it('hands over each identity’s tokens with who they belong to', () => {
    const { tokens } = toUserRecord(user(), true);
    expect(tokens[0]).toEqual({
      userId: 'google-oauth2|109876543210',
      provider: 'google-oauth2',
      connection: 'google-oauth2',
      identityUserId: '109876543210',
      accessToken: 'ya29.google-access-secret',
      refreshToken: '1//google-refresh-secret',
      expiresIn: 3599,
      tokensStoredAt: '2030-01-01T11:00:00.000Z',
    });
    expect(tokens.map((t) => t.connection)).toEqual(['google-oauth2', 'facebook', 'twitter', 'github']);
    expect(tokens[1]!.refreshToken).toBeUndefined();
  });

  it('hands over nothing for identities without tokens', () => {
    const bare = user({ identities: [{ provider: 'auth0', user_id: 'abc', connection: 'Username-Password-Authentication', isSocial: false }] });
    expect(toUserRecord(bare, true).tokens).toEqual([]);
    expect(toUserRecord(bare, false).tokens).toEqual([]);
  });

  it('hands over a refresh token alone', () => {
    const refreshOnly = user({ identities: [{ provider: 'bitbucket', user_id: 'u', connection: 'bitbucket', refresh_token: 'rt' }] });
    const { record, tokens } = toUserRecord(refreshOnly, true);
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.refreshToken).toBe('rt');
    expect(tokens[0]!.accessToken).toBeUndefined();
    expect(record.identities[0]!.tokens).toEqual({ hasAccessToken: false, hasRefreshToken: true });
  });
});

describe('toUserRecord: ids and order', () => {
  it('makes numeric identity ids strings, in the record and in the tokens', () => {
    const { record, tokens } = toUserRecord(user(), true);
    const github = record.identities.find((identity) => identity.provider === 'github')!;
    expect(github.userId).toBe('1234567');
    expect(typeof github.userId).toBe('string');
    expect(tokens.find((t) => t.provider === 'github')!.identityUserId).toBe('1234567');
    for (const identity of record.identities) expect(typeof identity.userId).toBe('string');
  });

  it('keeps numeric id 0 as "0"', () => {
    const zero = user({ identities: [{ provider: 'github', user_id: 0, connection: 'github' }] });
    expect(toUserRecord(zero, false).record.identities[0]!.userId).toBe('0');
  });

  it('keeps Auth0’s identity order: the primary identity first, then the linked ones', () => {
    const { record } = toUserRecord(user(), false);
    expect(record.identities.map((identity) => identity.connection)).toEqual(['google-oauth2', 'facebook', 'twitter', 'github']);
    // The primary identity is the one the user id is made of.
    expect(record.id).toBe(`${record.identities[0]!.provider}|${record.identities[0]!.userId}`);
  });

  it('keeps the user id as Auth0 sent it', () => {
    expect(toUserRecord(user({ user_id: 'auth0|64f1c0ffee' }), false).record.id).toBe('auth0|64f1c0ffee');
  });
});

describe('toUserRecord: token presence known or unknown', () => {
  it('says "no tokens" (not "unknown") for a GET /users/{id} answer without token fields', () => {
    const noFields = user({ identities: [{ provider: 'google-oauth2', user_id: '1', connection: 'google-oauth2' }] });
    expect(toUserRecord(noFields, true).record.identities[0]!.tokens).toEqual({ hasAccessToken: false, hasRefreshToken: false });
  });

  it('says "unknown" (null) for a search answer without token fields', () => {
    const noFields = user({ identities: [{ provider: 'google-oauth2', user_id: '1', connection: 'google-oauth2' }] });
    expect(toUserRecord(noFields, false).record.identities[0]!.tokens).toBeNull();
  });

  it('trusts token fields that a search answer did include', () => {
    const { record } = toUserRecord(user(), false);
    expect(record.identities[0]!.tokens).toEqual({ hasAccessToken: true, hasRefreshToken: true });
    const oauth1Only = user({ identities: [{ provider: 'twitter', user_id: '1', connection: 'twitter', access_token_secret: 's' }] });
    expect(toUserRecord(oauth1Only, false).record.identities[0]!.tokens).toEqual({ hasAccessToken: false, hasRefreshToken: false });
  });

  it('trusts any one token field alone: a search answer with just an access token or just a refresh token is known', () => {
    const only = (fields: Record<string, string>) =>
      toUserRecord(user({ identities: [{ provider: 'google-oauth2', user_id: '1', connection: 'google-oauth2', ...fields }] }), false).record.identities[0]!
        .tokens;
    expect(only({ access_token: 'a' })).toEqual({ hasAccessToken: true, hasRefreshToken: false });
    expect(only({ refresh_token: 'r' })).toEqual({ hasAccessToken: false, hasRefreshToken: true });
  });

  it('counts empty token strings as absent', () => {
    const empty = user({ identities: [{ provider: 'google-oauth2', user_id: '1', connection: 'google-oauth2', access_token: '', refresh_token: '' }] });
    const { record, tokens } = toUserRecord(empty, false);
    expect(record.identities[0]!.tokens).toEqual({ hasAccessToken: false, hasRefreshToken: false });
    expect(tokens).toEqual([]);
  });
});

describe('toUserRecord: other fields', () => {
  it('takes the later of last_login and updated_at as when the tokens were stored', () => {
    expect(toUserRecord(user({ last_login: '2030-01-02T00:00:00Z', updated_at: '2030-01-01T00:00:00Z' }), false).record.tokensStoredAt).toBe(
      '2030-01-02T00:00:00.000Z',
    );
    expect(toUserRecord(user({ last_login: '2030-01-01T00:00:00Z', updated_at: '2030-01-02T00:00:00Z' }), false).record.tokensStoredAt).toBe(
      '2030-01-02T00:00:00.000Z',
    );
    expect(toUserRecord(user({ last_login: undefined, updated_at: '2030-01-02T00:00:00Z' }), false).record.tokensStoredAt).toBe('2030-01-02T00:00:00.000Z');
    expect(toUserRecord(user({ last_login: 'garbage', updated_at: '2030-01-02T00:00:00Z' }), false).record.tokensStoredAt).toBe('2030-01-02T00:00:00.000Z');
    expect(toUserRecord(user({ last_login: undefined, updated_at: undefined }), false).record.tokensStoredAt).toBeNull();
    expect(toUserRecord(user({ last_login: 'garbage', updated_at: '' }), false).record.tokensStoredAt).toBeNull();
  });

  it('gives every token the same storage time as the record', () => {
    const { record, tokens } = toUserRecord(user(), true);
    for (const t of tokens) expect(t.tokensStoredAt).toBe(record.tokensStoredAt);
  });

  it('uses null for missing profile fields and identity details', () => {
    const sparse: Auth0User = { user_id: 'auth0|x' };
    expect(toUserRecord(sparse, true)).toEqual({
      record: { id: 'auth0|x', email: null, name: null, picture: null, tokensStoredAt: null, identities: [] },
      tokens: [],
    });
    const identity = toUserRecord(user({ identities: [{ provider: 'auth0', user_id: 'x', connection: 'db' }] }), false).record.identities[0];
    expect(identity).toEqual({ provider: 'auth0', connection: 'db', userId: 'x', isSocial: false, expiresIn: null, tokens: null, profileData: null });
  });

  it('keeps expires_in only when it is a number', () => {
    const odd = user({ identities: [{ provider: 'google-oauth2', user_id: '1', connection: 'google-oauth2', expires_in: '3600' as unknown as number }] });
    expect(toUserRecord(odd, false).record.identities[0]!.expiresIn).toBeNull();
    expect(toUserRecord(user(), false).record.identities[0]!.expiresIn).toBe(3599);
  });
});
