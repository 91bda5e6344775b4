import type { TokenPolicy } from '../../tokens/policy.js';

/**
 * Facebook issues no refresh tokens (long-lived user tokens last about 60 days): an expired user token, or one
 * rejected with code 190, can only be replaced by the user signing in again.
 */
export const facebookTokenPolicy: TokenPolicy = {
  strategies: ['facebook'],
  reauthorizeParams: { prompt: 'login' },
};
