import type { Plugin } from 'graphql-yoga';
import type { Caller, CallerVerifier } from '../auth0/caller-token.js';

/** Options of useCallerAuth. */
export interface CallerAuthOptions {
  verifier: CallerVerifier;
}

/**
 * Authenticates every GraphQL request before anything resolves (CONTRACT §4): the caller's Auth0
 * access token is verified and put on the context as `caller`. A missing or bad token throws
 * UnauthenticatedError, which yoga answers with HTTP 401 and `extensions.code` UNAUTHENTICATED.
 * GraphiQL's page itself is served before this runs, so a browser can open it without a token.
 */
export function useCallerAuth({ verifier }: CallerAuthOptions): Plugin<{ caller: Caller }> {
  return {
    async onContextBuilding({ context, extendContext }) {
      const caller = await verifier.verify(context.request.headers.get('authorization'));
      extendContext({ caller });
    },
  };
}
