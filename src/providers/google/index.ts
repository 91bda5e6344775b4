import type { ProviderDefinition } from '../provider.js';
import { googleApi } from './api.js';
import { googleConfig } from './config.js';
import { GoogleIdentity } from './fields.js';
import { googleTokenPolicy } from './token.js';

/** Google: its variables, token policy, API and GraphQL identity type with its fields. */
export const google: ProviderDefinition = { name: 'google', config: googleConfig, tokenPolicy: googleTokenPolicy, api: googleApi, identity: GoogleIdentity };
