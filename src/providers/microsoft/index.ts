import type { ProviderDefinition } from '../provider.js';
import { microsoftApi } from './api.js';
import { microsoftConfig } from './config.js';
import { MicrosoftIdentity } from './fields.js';
import { microsoftTokenPolicy } from './token.js';

/**
 * Microsoft (Entra ID `waad`, personal accounts `windowslive`): tokens are renewed at the tenant's
 * endpoint; Microsoft Graph (profile, calendar, mail, OneDrive) as fields of MicrosoftIdentity.
 */
export const microsoft: ProviderDefinition = {
  name: 'microsoft',
  config: microsoftConfig,
  tokenPolicy: microsoftTokenPolicy,
  api: microsoftApi,
  identity: MicrosoftIdentity,
};
