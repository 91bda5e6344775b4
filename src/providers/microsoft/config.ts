import { configFragment, url } from '../../env.js';

/** Microsoft's variable: the identity platform origin; `<origin>/<tenant>/oauth2/v2.0/token` renews waad/windowslive tokens. */
export const microsoftConfig = configFragment(
  {
    MICROSOFT_LOGIN_URL: url('MICROSOFT_LOGIN_URL').default('https://login.microsoftonline.com'),
  },
  (env) => ({ loginUrl: env.MICROSOFT_LOGIN_URL }),
);
