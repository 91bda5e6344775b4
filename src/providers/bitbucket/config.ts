import { configFragment, optionalSecret, url } from '../../env.js';

/** Bitbucket's variables: the API base, the token endpoint, and the OAuth consumer (else the Auth0 connection's). */
export const bitbucketConfig = configFragment(
  {
    BITBUCKET_API_URL: url('BITBUCKET_API_URL').default('https://api.bitbucket.org/2.0'),
    BITBUCKET_TOKEN_URL: url('BITBUCKET_TOKEN_URL').default('https://bitbucket.org/site/oauth2/access_token'),
    BITBUCKET_CLIENT_ID: optionalSecret,
    BITBUCKET_CLIENT_SECRET: optionalSecret,
  },
  (env) => ({ apiUrl: env.BITBUCKET_API_URL, tokenUrl: env.BITBUCKET_TOKEN_URL, clientId: env.BITBUCKET_CLIENT_ID, clientSecret: env.BITBUCKET_CLIENT_SECRET }),
);
