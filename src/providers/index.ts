/**
 * Every provider the gateway knows. Adding one means adding its folder and a line or two here:
 * its GraphQL module (which registers its identity type and User field) and its token policy.
 */
import type { TokenPolicy } from '../tokens/policy.js';
import { bitbucketTokenPolicy } from './bitbucket/token.js';
import { facebookTokenPolicy } from './facebook/token.js';
import { googleTokenPolicy } from './google/token.js';
import { microsoftTokenPolicy } from './microsoft/token.js';
import { oauth2TokenPolicy } from './oauth2/token.js';
import './google/identity.js';
import './google/fields.js';
import './facebook/identity.js';
import './facebook/fields.js';
import './bitbucket/identity.js';
import './bitbucket/fields.js';
import './oauth2/identity.js';
import './oauth2/fields.js';

/** How each provider's tokens are renewed and its users sent back to sign in. */
export const tokenPolicies: readonly TokenPolicy[] = [
  googleTokenPolicy,
  facebookTokenPolicy,
  bitbucketTokenPolicy,
  oauth2TokenPolicy,
  microsoftTokenPolicy,
];
