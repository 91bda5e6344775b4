import { configFragment, optionalSecret, url } from '../../env.js';

/** Facebook's variables: the Graph API base with its version, and the app credentials (else the Auth0 connection's). */
export const facebookConfig = configFragment(
  {
    FACEBOOK_GRAPH_URL: url('FACEBOOK_GRAPH_URL').default('https://graph.facebook.com/v26.0'),
    FACEBOOK_APP_ID: optionalSecret,
    FACEBOOK_APP_SECRET: optionalSecret,
  },
  (env) => ({ graphUrl: env.FACEBOOK_GRAPH_URL, appId: env.FACEBOOK_APP_ID, appSecret: env.FACEBOOK_APP_SECRET }),
);
