import { configFragment, optionalSecret, url } from '../../env.js';

/** Google's variables: the API origin, the token endpoint, and app credentials (else the Auth0 connection's). */
export const googleConfig = configFragment(
  {
    GOOGLE_API_URL: url('GOOGLE_API_URL').default('https://www.googleapis.com'),
    GOOGLE_TOKEN_URL: url('GOOGLE_TOKEN_URL').default('https://oauth2.googleapis.com/token'),
    GOOGLE_CLIENT_ID: optionalSecret,
    GOOGLE_CLIENT_SECRET: optionalSecret,
  },
  (env) => ({ apiUrl: env.GOOGLE_API_URL, tokenUrl: env.GOOGLE_TOKEN_URL, clientId: env.GOOGLE_CLIENT_ID, clientSecret: env.GOOGLE_CLIENT_SECRET }),
);
