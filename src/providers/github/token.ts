import { appCredentials, type TokenPolicy } from '../../tokens/policy.js';

/**
 * GitHub (docs/upstream-apis.md#github). OAuth-app tokens (`gho_…`) never expire and come without a
 * refresh token, so there is nothing to renew: a refused one sends the user back to sign in.
 * GitHub-App user tokens (`ghu_…`, 8 hours) renew at the token endpoint with the client credentials
 * in the form body; every renewal answers a new refresh token (`ghr_…`) and the one sent is dead at
 * once (single use, no grace), so the broker stores the new one before handing out the access token
 * and never replays a spent one. GitHub answers refusals with HTTP 200 and an `error` field
 * (`bad_refresh_token`), which the refresh grant reads as a dead grant.
 */
export const githubTokenPolicy: TokenPolicy = {
  strategies: ['github'],
  rotatesRefreshToken: true,
  refreshEndpoint: async (context) => ({
    tokenUrl: context.config.providers.github.tokenUrl,
    clientAuth: 'post',
    ...(await appCredentials(context, context.config.providers.github)),
  }),
};
