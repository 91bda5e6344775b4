import type { ProviderDefinition } from '../provider.js';
import { facebookApi } from './api.js';
import { facebookConfig } from './config.js';
import { FacebookIdentity } from './fields.js';
import { facebookTokenPolicy } from './token.js';

/** Facebook: its variables, token policy, API and GraphQL identity type with its fields. */
export const facebook: ProviderDefinition = {
  name: 'facebook',
  config: facebookConfig,
  tokenPolicy: facebookTokenPolicy,
  api: facebookApi,
  identity: FacebookIdentity,
};
