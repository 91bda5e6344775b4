import type { TokenPolicy } from '../../tokens/policy.js';

/**
 * Facebook issues no refresh tokens (reference/providers.md B.5): an expired user token, or one
 * rejected with code 190, can only be replaced by the user signing in again.
 */
export const facebookTokenPolicy: TokenPolicy = {
  strategies: ['facebook'],
  reauthorizeParams: { prompt: 'login' },
};
