import { appCredentials, type TokenPolicy } from '../../tokens/policy.js';

/**
 * Google renews with the form-encoded refresh grant, client credentials in the body, and never
 * sends a new refresh token (docs/upstream-apis.md#google). A refresh token is issued only with
 * `access_type=offline` and a consent prompt, so a user sent back must get both. Google Workspace
 * (`google-apps`) admin tokens renew the same way.
 */
export const googleTokenPolicy: TokenPolicy = {
  strategies: ['google-oauth2', 'google-apps'],
  refreshEndpoint: async (context) => ({
    tokenUrl: context.config.providers.google.tokenUrl,
    clientAuth: 'post',
    ...(await appCredentials(context, context.config.providers.google)),
  }),
  reauthorizeParams: { access_type: 'offline', prompt: 'consent' },
  rotatesRefreshToken: false,
};
