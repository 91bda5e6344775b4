import { z } from 'zod';
import { configFragment, optionalSecret, url } from '../../env.js';

/**
 * One custom OAuth 2.0 connection the gateway may call: its API base and, optionally, its token
 * endpoint and client credentials (each defaulting to the Auth0 connection's `options.tokenURL`,
 * `client_id` and `client_secret`), and how the client authenticates at the token endpoint.
 */
const oauth2Connection = z.object({
  apiUrl: url('apiUrl'),
  tokenUrl: url('tokenUrl').optional(),
  clientId: optionalSecret,
  clientSecret: optionalSecret,
  clientAuth: z.enum(['post', 'basic']).default('post'),
});

/** `OAUTH2_CONNECTIONS`: a JSON object of custom OAuth 2.0 connections by Auth0 connection name. */
export const oauth2Config = configFragment(
  {
    OAUTH2_CONNECTIONS: z
      .string()
      .trim()
      .default('{}')
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
          return z.NEVER;
        }
      })
      .pipe(z.record(z.string(), oauth2Connection)),
  },
  (env) => env.OAUTH2_CONNECTIONS,
);
