import { ConfigurationError } from '../../errors.js';
import { appCredentials, optionString, type TokenPolicy } from '../../tokens/policy.js';

/**
 * Custom OAuth 2.0 connections renew per RFC 6749 §6 at the connection's token URL, with the
 * credentials of OAUTH2_CONNECTIONS or, where absent, the Auth0 connection's options
 * (`tokenURL`, `client_id`, `client_secret`). Rotation is honoured when the server rotates.
 */
export const oauth2TokenPolicy: TokenPolicy = {
  strategies: ['oauth2'],
  refreshEndpoint: async (context) => {
    const configured = context.config.providers.oauth2[context.connection];
    const tokenUrl = configured?.tokenUrl ?? optionString(await context.connectionOptions(), 'tokenURL');
    if (!tokenUrl) throw new ConfigurationError('oauth2', `no token URL for the connection ${context.connection}`);
    return {
      tokenUrl,
      clientAuth: configured?.clientAuth ?? 'post',
      ...(await appCredentials(context, { clientId: configured?.clientId, clientSecret: configured?.clientSecret })),
    };
  },
};
