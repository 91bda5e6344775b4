import { defineProviderIdentity } from '../../graphql/identity.js';

/** Identities of Auth0's `bitbucket` strategy. */
export const BitbucketIdentity = defineProviderIdentity({
  typeName: 'BitbucketIdentity',
  strategies: ['bitbucket'],
  description: 'A Bitbucket Cloud account linked through the bitbucket connection.',
  userField: { name: 'bitbucket', description: 'The linked Bitbucket identity; null when none is linked.' },
});
