import type { ProviderDefinition } from '../provider.js';
import { oauth2Api } from './api.js';
import { oauth2Config } from './config.js';
import { OAuth2Identity } from './fields.js';
import { oauth2TokenPolicy } from './token.js';

/** Oauth2: its variables, token policy, API and GraphQL identity type with its fields. */
export const oauth2: ProviderDefinition = { name: 'oauth2', config: oauth2Config, tokenPolicy: oauth2TokenPolicy, api: oauth2Api, identity: OAuth2Identity };
