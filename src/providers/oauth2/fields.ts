import { UpstreamUnavailableError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import { upstreamCalls } from '../../graphql/cost.js';
import { providerGet } from '../../graphql/identity.js';
import { defineProviderIdentity } from '../../graphql/provider-identity.js';
import { oauth2Api } from './api.js';
import { checkedPath, queryParameters, requestUrl } from './request.js';

/** Identities of custom OAuth 2.0 connections (Auth0 strategy `oauth2`). */
export const OAuth2Identity = defineProviderIdentity({
  typeName: 'OAuth2Identity',
  strategies: ['oauth2'],
  description: 'An account at a custom OAuth 2.0 provider, linked through a custom social connection.',
});

/**
 * A custom OAuth 2.0 connection's API as one generic field of OAuth2Identity:
 * `request(path, query)` GETs `<apiUrl><path>` with the user's token, once the path and query
 * have passed the checks of request.ts (nothing is sent otherwise).
 */

builder.objectFields(OAuth2Identity, (t) => ({
  request: t.field({
    extensions: upstreamCalls(),
    type: 'JSON',
    nullable: true,
    description:
      "GET <apiUrl><path> at the connection's API with the user's token and answer its JSON; null when it answers 404. " +
      'The path must start with "/", stay under apiUrl (no "." or ".." segments, no backslash, no encoded ".", "/", "\\" or "%") ' +
      'and carry no query or fragment; anything else is BAD_USER_INPUT and nothing is sent.',
    args: {
      path: t.arg.string({ required: true, description: 'The path below apiUrl, e.g. "/me" or "/v1/items".' }),
      query: t.arg({
        type: 'JSON',
        description: 'Query parameters as an object of strings, numbers and booleans; an array value repeats the parameter.',
      }),
    },
    resolve: async (parent, args, context) => {
      const path = checkedPath(args.path);
      const parameters = queryParameters(args.query);
      const { connection } = parent.identity;
      const url = requestUrl(context.services.config, connection, path, parameters);
      const body = await providerGet(context, parent, oauth2Api, url);
      // The HTTP client parses JSON answers; what is still text was not JSON.
      if (typeof body === 'string') throw new UpstreamUnavailableError(oauth2Api.provider, `${connection} did not answer JSON`);
      return body ?? null;
    },
  }),
}));
