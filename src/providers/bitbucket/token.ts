import { appCredentials, type TokenPolicy } from '../../tokens/policy.js';

/**
 * Bitbucket Cloud renews with HTTP Basic client authentication and, since 2026-05-04, rotates the
 * refresh token on every use (docs/upstream-apis.md#bitbucket); the broker stores the new one first.
 */
export const bitbucketTokenPolicy: TokenPolicy = {
  strategies: ['bitbucket'],
  rotatesRefreshToken: true,
  // A used refresh token stays valid about 10 minutes after its first use (Atlassian).
  reuseGraceMs: 10 * 60_000,
  refreshEndpoint: async (context) => ({
    tokenUrl: context.config.providers.bitbucket.tokenUrl,
    clientAuth: 'basic',
    ...(await appCredentials(context, context.config.providers.bitbucket)),
  }),
};
