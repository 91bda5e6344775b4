import { configFragment, optionalSecret, url } from '../../env.js';

/** GitHub's variables: the GraphQL endpoint, the token endpoint, and the app's credentials (else the Auth0 connection's). */
export const githubConfig = configFragment(
  {
    GITHUB_GRAPHQL_URL: url('GITHUB_GRAPHQL_URL').default('https://api.github.com/graphql'),
    GITHUB_TOKEN_URL: url('GITHUB_TOKEN_URL').default('https://github.com/login/oauth/access_token'),
    GITHUB_CLIENT_ID: optionalSecret,
    GITHUB_CLIENT_SECRET: optionalSecret,
  },
  (env) => ({ graphqlUrl: env.GITHUB_GRAPHQL_URL, tokenUrl: env.GITHUB_TOKEN_URL, clientId: env.GITHUB_CLIENT_ID, clientSecret: env.GITHUB_CLIENT_SECRET }),
);
