import type { ProviderDefinition } from '../provider.js';
import { bitbucketApi } from './api.js';
import { bitbucketConfig } from './config.js';
import { BitbucketIdentity } from './fields.js';
import { bitbucketTokenPolicy } from './token.js';

/** Bitbucket: its variables, token policy, API and GraphQL identity type with its fields. */
export const bitbucket: ProviderDefinition = {
  name: 'bitbucket',
  config: bitbucketConfig,
  tokenPolicy: bitbucketTokenPolicy,
  api: bitbucketApi,
  identity: BitbucketIdentity,
};
