import { defineProviderIdentity } from '../../graphql/identity.js';

/** Identities of Auth0's `facebook` strategy. */
export const FacebookIdentity = defineProviderIdentity({
  typeName: 'FacebookIdentity',
  strategies: ['facebook'],
  description: 'A Facebook account linked through the facebook connection.',
  userField: { name: 'facebook', description: 'The linked Facebook identity; null when none is linked.' },
});
