import { appCredentials, optionString, type TokenPolicy } from '../../tokens/policy.js';

/**
 * Microsoft identity platform (Entra ID `waad`, personal accounts `windowslive`): the tenant's v2.0
 * token endpoint, credentials in the body; every refresh returns a new refresh token, which the
 * broker keeps (docs/upstream-apis.md#microsoft).
 */
export const microsoftTokenPolicy: TokenPolicy = {
  strategies: ['waad', 'windowslive'],
  rotatesRefreshToken: true,
  refreshEndpoint: async (context) => {
    const options = await context.connectionOptions();
    const tenant =
      optionString(options, 'tenant_domain') ?? optionString(options, 'tenantId') ?? (context.connection === 'windowslive' ? 'consumers' : 'common');
    return {
      tokenUrl: `${context.config.providers.microsoft.loginUrl}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`,
      clientAuth: 'post',
      ...(await appCredentials(context, {})),
    };
  },
};
