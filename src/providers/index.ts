/**
 * Every provider the gateway knows, one definition each. Adding a provider means adding its folder
 * (config.ts, api.ts, token.ts, fields.ts, index.ts) and one line here, plus its configuration
 * fragment's line in providers/config.ts (configuration is validated before any provider code loads).
 */
import { bitbucket } from './bitbucket/index.js';
import { facebook } from './facebook/index.js';
import { github } from './github/index.js';
import { google } from './google/index.js';
import { microsoft } from './microsoft/index.js';
import { oauth2 } from './oauth2/index.js';
import type { ProviderDefinition } from './provider.js';

export const providers: readonly ProviderDefinition[] = [google, facebook, bitbucket, oauth2, microsoft, github];

/** How each provider's tokens are renewed and its users sent back to sign in. */
export const tokenPolicies = providers.map((provider) => provider.tokenPolicy);
