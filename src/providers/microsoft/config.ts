import { configFragment, url } from '../../env.js';

/**
 * Microsoft's variables: the identity platform origin (`<origin>/<tenant>/oauth2/v2.0/token` renews
 * waad/windowslive tokens) and the Microsoft Graph base URL, version segment included.
 */
export const microsoftConfig = configFragment(
  {
    MICROSOFT_LOGIN_URL: url('MICROSOFT_LOGIN_URL').default('https://login.microsoftonline.com'),
    MICROSOFT_GRAPH_URL: url('MICROSOFT_GRAPH_URL').default('https://graph.microsoft.com/v1.0'),
  },
  (env) => ({ loginUrl: env.MICROSOFT_LOGIN_URL, graphUrl: env.MICROSOFT_GRAPH_URL }),
);
