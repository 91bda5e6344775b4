import { defineProviderIdentity } from '../../graphql/identity.js';

/** Identities of custom OAuth 2.0 connections (Auth0 strategy `oauth2`). */
export const OAuth2Identity = defineProviderIdentity({
  typeName: 'OAuth2Identity',
  strategies: ['oauth2'],
  description: 'An account at a custom OAuth 2.0 provider, linked through a custom social connection.',
});
