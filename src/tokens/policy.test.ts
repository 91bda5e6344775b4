import { describe, expect, it, vi } from 'vitest';
import type { GatewayConfig } from '../config.js';
import type { GatewayError } from '../errors.js';
import type { UpstreamClient } from '../http/upstream.js';
import { appCredentials, type PolicyContext } from './policy.js';
import { sendRefreshGrant } from './refresh-grant.js';

// Where a policy's client credentials come from: the environment when it has both, else the Auth0
// connection's options. A credential found in neither is empty, never a placeholder, so the refresh
// grant refuses it as the gateway misconfigured instead of sending made-up credentials.

function context(options: Record<string, unknown>): PolicyContext {
  return { config: {} as GatewayConfig, connection: 'github', connectionOptions: vi.fn(async () => options) };
}

describe('appCredentials', () => {
  it('takes both from the environment without reading the connection', async () => {
    const ctx = context({ client_id: 'from-auth0', client_secret: 'auth0-secret' });
    expect(await appCredentials(ctx, { clientId: 'env-id', clientSecret: 'env-secret' })).toEqual({ clientId: 'env-id', clientSecret: 'env-secret' });
    expect(ctx.connectionOptions).not.toHaveBeenCalled();
  });

  it('leaves a credential found neither in the environment nor on the connection empty', async () => {
    expect(await appCredentials(context({}), {})).toEqual({ clientId: '', clientSecret: '' });
    expect(await appCredentials(context({ client_id: 'from-auth0', client_secret: { vault: 'x' } }), {})).toEqual({ clientId: 'from-auth0', clientSecret: '' });
    expect(await appCredentials(context({ client_secret: 'auth0-secret' }), {})).toEqual({ clientId: '', clientSecret: 'auth0-secret' });
  });

  it('so a connection without credentials makes the refresh a configuration error, and nothing is sent', async () => {
    const send = vi.fn();
    const endpoint = { tokenUrl: 'https://github.example/login/oauth/access_token', clientAuth: 'post' as const, ...(await appCredentials(context({}), {})) };
    const error = await sendRefreshGrant({ send } as unknown as UpstreamClient, 'github', endpoint, 'ghr_old').catch((e: unknown) => e as GatewayError);
    expect(error).toMatchObject({ extensions: { code: 'CONFIGURATION_ERROR', provider: 'github' } });
    expect(send).not.toHaveBeenCalled();
  });
});
