import type { Plugin } from 'graphql-yoga';
import { bearerTokenOf, type Caller, type CallerVerifier } from '../auth0/caller-token.js';
import { GatewayError } from '../errors.js';
import { setRequestCaller } from '../http/request-stats.js';

/** Options of useCallerAuth. */
export interface CallerAuthOptions {
  verifier: CallerVerifier;
  /** The GraphQL endpoint path; only requests to it need a caller token. */
  endpoint: string;
}

/**
 * Authenticates every GraphQL request before anything else is done with it: the caller's Auth0
 * access token is verified in `onRequest`, before yoga reads the body, parses or validates the
 * document. Without a valid token the answer is 401 UNAUTHENTICATED at once, whatever the body
 * (it is never read, so a multi-megabyte document costs nothing), and it says nothing about the
 * schema (no validation ran, so no "Did you mean …?"). The verified caller becomes `caller` on the
 * context, and its token `callerAccessToken`, a closure that no log line or error can serialize.
 * CORS preflights and the GraphiQL page are answered by earlier plugins and need no token.
 */
export function useCallerAuth({ verifier, endpoint }: CallerAuthOptions): Plugin<{ caller: Caller }> {
  return {
    async onRequest({ request, url, serverContext, endResponse, fetchAPI }) {
      if (url.pathname !== endpoint && url.pathname !== `${endpoint}/`) return;
      try {
        const authorization = request.headers.get('authorization');
        const caller = await verifier.verify(authorization);
        setRequestCaller(caller.sub);
        // yoga builds each request's context on top of its server context.
        Object.assign(serverContext as object, { caller });
        // The verified token itself, for Auth0 Token Vault's exchange (the caller's own identities):
        // a closure on a non-enumerable property, so no serializer (a log line, an error) meets it.
        const token = bearerTokenOf(authorization);
        Object.defineProperty(serverContext, 'callerAccessToken', { value: () => token, enumerable: false, configurable: true });
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        const http = (error.extensions.http ?? {}) as { status?: number; headers?: Record<string, string> };
        const { http: _http, ...extensions } = error.extensions;
        const headers: Record<string, string> = { ...http.headers, 'content-type': 'application/json; charset=utf-8' };
        endResponse(fetchAPI.Response.json({ errors: [{ message: error.message, extensions }] }, { status: http.status ?? 401, headers }));
      }
    },
  };
}
