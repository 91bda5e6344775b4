import { defineProviderIdentity } from '../../graphql/identity.js';

/** Identities of Auth0's `google-oauth2` strategy. */
export const GoogleIdentity = defineProviderIdentity({
  typeName: 'GoogleIdentity',
  strategies: ['google-oauth2'],
  description: 'A Google account linked through the google-oauth2 connection.',
  userField: { name: 'google', description: 'The linked Google identity; null when none is linked.' },
});
