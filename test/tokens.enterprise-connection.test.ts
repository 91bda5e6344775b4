import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssuedTokens } from '../sandbox/provider-tokens.js';
import type { RawConnection } from '../sandbox/tenant.js';
import { errorCodes, startHarness, type Harness } from './helpers/harness.js';

// `enterpriseConnection(name)` (read:connections) reads the Auth0 connection; its admin
// tokens (`options.admin_access_token`, `admin_refresh_token`, `admin_access_token_expiresin` as an
// ISO date) show as a TokenStatus, and `adminAccessToken` (also read:user_idp_tokens) is a valid,
// renewed-when-needed token. Google Workspace (`google-apps`) admin tokens renew at Google.

interface AdminStatus {
  state: string;
  expiresAt: string | null;
  hasRefreshToken: boolean;
}
interface ConnectionAnswer {
  enterpriseConnection: { id?: string; name?: string; strategy?: string; adminToken?: AdminStatus | null; adminAccessToken?: string | null } | null;
}

const HOUR = 3_600_000;

let h: Harness;
let valid: { tokens: IssuedTokens; expiresAt: string };
let lapsed: IssuedTokens;
let dead: IssuedTokens;
let admin: string;
let adminWithTokens: string;

/** A google-apps connection with the Google fake's app credentials and the given admin tokens. */
function workspaceConnection(id: string, name: string, tokens: IssuedTokens, expiresAt: string): RawConnection {
  return {
    id,
    name,
    strategy: 'google-apps',
    display_name: name,
    realms: ['acme.example'],
    is_domain_connection: false,
    options: {
      client_id: h.sandbox.google.clientId,
      client_secret: h.sandbox.google.clientSecret,
      domain: 'acme.example',
      tenant_domain: 'acme.example',
      api_enable_users: true,
      admin_access_token: tokens.access_token,
      admin_refresh_token: tokens.refresh_token,
      admin_access_token_expiresin: expiresAt,
    },
  };
}

async function userinfoStatus(token: string): Promise<number> {
  const response = await fetch(`${h.sandbox.google.origin}/oauth2/v3/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

beforeAll(async () => {
  h = await startHarness();
  const google = h.sandbox.google;
  google.addAccount({ sub: 'admin-1', email: 'admin@acme.example' });
  google.addAccount({ sub: 'admin-2', email: 'admin2@acme.example' });
  valid = { tokens: google.issueTokens('admin-1'), expiresAt: new Date(Date.now() + HOUR).toISOString() };
  lapsed = google.issueTokens('admin-1', { expiresIn: -60 });
  dead = google.issueTokens('admin-2', { expiresIn: -60 });
  google.revokeRefreshTokens('admin-2');
  const past = new Date(Date.now() - 2 * HOUR).toISOString();
  h.sandbox.tenant.addConnection(workspaceConnection('con_GApps0AcmeWork01', 'acme-workspace', valid.tokens, valid.expiresAt));
  h.sandbox.tenant.addConnection(workspaceConnection('con_GApps0AcmeLaps02', 'acme-lapsed', lapsed, past));
  h.sandbox.tenant.addConnection(workspaceConnection('con_GApps0AcmeDead03', 'acme-revoked', dead, past));
  admin = await h.token('admin-console@clients', 'read:connections');
  adminWithTokens = await h.token('admin-console@clients', 'read:connections read:user_idp_tokens');
});
afterAll(async () => h?.close());

describe('enterpriseConnection', () => {
  it('reads the connection with the state of its admin token, renewing nothing', async () => {
    const answer = await h.query<ConnectionAnswer>(
      admin,
      `{
      enterpriseConnection(name: "acme-workspace") { id name strategy adminToken { state expiresAt hasRefreshToken } }
    }`,
    );
    expect(answer.errors).toBeUndefined();
    const connection = answer.data!.enterpriseConnection!;
    expect(connection).toMatchObject({ id: 'con_GApps0AcmeWork01', name: 'acme-workspace', strategy: 'google-apps' });
    expect(connection.adminToken).toMatchObject({ state: 'VALID', hasRefreshToken: true });
    expect(Date.parse(connection.adminToken!.expiresAt!)).toBe(Date.parse(valid.expiresAt));
    expect(h.sandbox.google.count('token')).toBe(0);
    // The answer never carries the admin tokens themselves.
    expect(JSON.stringify(answer)).not.toContain(valid.tokens.access_token);
    expect(JSON.stringify(answer)).not.toContain(valid.tokens.refresh_token!);
  });

  it('hands out a valid admin token as it is, with both scopes', async () => {
    const answer = await h.query<ConnectionAnswer>(adminWithTokens, '{ enterpriseConnection(name: "acme-workspace") { adminAccessToken } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.enterpriseConnection?.adminAccessToken).toBe(valid.tokens.access_token);
    expect(h.sandbox.google.count('token')).toBe(0);
  });

  it('renews an expired admin token once (Google accepts it), and answers the next query without a token call', async () => {
    const before = h.sandbox.google.count('token');
    const status = await h.query<ConnectionAnswer>(admin, '{ enterpriseConnection(name: "acme-lapsed") { adminToken { state hasRefreshToken } } }');
    expect(status.data?.enterpriseConnection?.adminToken).toEqual({ state: 'EXPIRED', hasRefreshToken: true });
    const answer = await h.query<ConnectionAnswer>(adminWithTokens, '{ enterpriseConnection(name: "acme-lapsed") { name adminAccessToken } }');
    expect(answer.errors).toBeUndefined();
    const token = answer.data!.enterpriseConnection!.adminAccessToken!;
    expect(token).toEqual(expect.any(String));
    expect(token).not.toBe(lapsed.access_token);
    expect(await userinfoStatus(token)).toBe(200);
    expect(h.sandbox.google.count('token')).toBe(before + 1);
    // The connection still holds the old pair; the renewed record is not overwritten by it.
    const again = await h.query<ConnectionAnswer>(
      adminWithTokens,
      `{
      enterpriseConnection(name: "acme-lapsed") { adminAccessToken adminToken { state expiresAt hasRefreshToken } }
    }`,
    );
    expect(again.errors).toBeUndefined();
    expect(again.data?.enterpriseConnection?.adminAccessToken).toBe(token);
    expect(again.data?.enterpriseConnection?.adminToken).toMatchObject({ state: 'VALID', hasRefreshToken: true });
    expect(Math.abs(Date.parse(again.data!.enterpriseConnection!.adminToken!.expiresAt!) - (Date.now() + 3_599_000))).toBeLessThan(15_000);
    expect(h.sandbox.google.count('token')).toBe(before + 1);
    expect(JSON.stringify(again)).not.toContain(lapsed.refresh_token!);
  });

  it('answers REAUTHENTICATION_REQUIRED naming the connection when the admin refresh token is revoked', async () => {
    const before = { token: h.sandbox.google.count('token'), reads: h.sandbox.tenant.count('listConnections') };
    const answer = await h.query<ConnectionAnswer>(adminWithTokens, '{ enterpriseConnection(name: "acme-revoked") { name adminAccessToken } }');
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(answer.errors![0]!.extensions).toMatchObject({ provider: 'google-apps', connection: 'acme-revoked' });
    expect(answer.data?.enterpriseConnection).toEqual({ name: 'acme-revoked', adminAccessToken: null });
    expect(h.sandbox.google.count('token')).toBe(before.token + 1);
    // One read of the connection to find it, one past the cache before declaring the tokens dead.
    expect(h.sandbox.tenant.count('listConnections')).toBe(before.reads + 2);
  });

  it('refuses adminAccessToken without read:user_idp_tokens, on that field only', async () => {
    const answer = await h.query<ConnectionAnswer>(admin, '{ enterpriseConnection(name: "acme-workspace") { name adminToken { state } adminAccessToken } }');
    expect(errorCodes(answer)).toEqual(['FORBIDDEN']);
    expect(answer.errors![0]!.extensions).toMatchObject({ requiredScope: 'read:user_idp_tokens' });
    expect(answer.errors![0]!.path).toEqual(['enterpriseConnection', 'adminAccessToken']);
    expect(answer.data?.enterpriseConnection).toEqual({ name: 'acme-workspace', adminToken: { state: 'VALID' }, adminAccessToken: null });
  });

  it('refuses the field without read:connections, before reading Auth0', async () => {
    const caller = await h.token('reporting-app@clients', 'read:users read:user_idp_tokens');
    const reads = h.sandbox.tenant.count('listConnections') + h.sandbox.tenant.count('getConnection');
    const answer = await h.query<ConnectionAnswer & { user: { id: string } | null }>(
      caller,
      `{
      enterpriseConnection(name: "acme-workspace") { name adminAccessToken }
      user(id: "auth0|nobody") { id }
    }`,
    );
    expect(errorCodes(answer)).toEqual(['FORBIDDEN']);
    expect(answer.errors![0]!.extensions).toMatchObject({ requiredScope: 'read:connections' });
    expect(answer.errors![0]!.path).toEqual(['enterpriseConnection']);
    expect(answer.data).toEqual({ enterpriseConnection: null, user: null });
    expect(h.sandbox.tenant.count('listConnections') + h.sandbox.tenant.count('getConnection')).toBe(reads);
  });

  it('gives null for a connection that does not exist', async () => {
    const answer = await h.query<ConnectionAnswer>(adminWithTokens, '{ enterpriseConnection(name: "no-such-connection") { name adminAccessToken } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ enterpriseConnection: null });
  });

  it('gives null admin token and admin access token for a connection without admin tokens', async () => {
    const answer = await h.query<ConnectionAnswer>(
      adminWithTokens,
      `{
      enterpriseConnection(name: "acme-azure") { id name strategy adminToken { state } adminAccessToken }
    }`,
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.enterpriseConnection).toEqual({
      id: 'con_Wa4dAcmeAzure01x',
      name: 'acme-azure',
      strategy: 'waad',
      adminToken: null,
      adminAccessToken: null,
    });
  });
});
