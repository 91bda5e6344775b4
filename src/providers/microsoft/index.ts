import type { ProviderDefinition } from '../provider.js';
import { microsoftConfig } from './config.js';
import { microsoftTokenPolicy } from './token.js';

/**
 * Microsoft (Entra ID `waad`, personal accounts `windowslive`): tokens are renewed at the tenant's
 * endpoint; no API fields yet, so its identities are GenericIdentity.
 */
export const microsoft: ProviderDefinition = { name: 'microsoft', config: microsoftConfig, tokenPolicy: microsoftTokenPolicy };
