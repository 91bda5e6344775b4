import type { Plugin } from 'graphql-yoga';

/** Options of useCors. */
export interface CorsOptions {
  /** `*`: any origin, without credentials; otherwise the allow-list (empty: no cross-origin grant). */
  origins: '*' | string[];
}

/** What a browser may send cross-origin: GraphQL over HTTP is GET and POST only. */
const ALLOW_METHODS = 'GET, POST';

/**
 * Request headers a cross-origin client may send. `authorization` carries the caller token,
 * `content-type`/`accept` are what GraphQL-over-HTTP clients send (JSON bodies are not a "simple"
 * request, so every POST is preflighted), `x-upstream-stats` asks for `extensions.upstream`, and
 * Apollo Client's optional `apollographql-client-name`/`-version` are accepted (and ignored) so
 * that a client configured with a name does not fail its preflight.
 */
const ALLOW_HEADERS = 'authorization, content-type, accept, x-upstream-stats, apollographql-client-name, apollographql-client-version';

/** Response headers a granted page may read besides the CORS-safelisted ones (why a 401 happened). */
const EXPOSE_HEADERS = 'WWW-Authenticate';

/** How long (seconds) a browser may cache a preflight's answer. */
const MAX_AGE = '600';

/** Responses no origin may read cross-origin, whatever CORS_ORIGINS says (see withoutCorsGrant). */
const neverGranted = new WeakSet<Response>();

/**
 * Marks a response as never readable cross-origin: useCors adds no grant to it, whatever
 * CORS_ORIGINS allows. For pages, not API answers: the GraphiQL page is a document a browser
 * navigates to, and it can carry a caller token (the demo's), which a `*` grant would hand to any
 * site that fetches it (`GET` with `Accept: text/html` is a simple request, sent without a preflight).
 */
export function withoutCorsGrant(response: Response): Response {
  neverGranted.add(response);
  return response;
}

/**
 * Cross-origin grants from CORS_ORIGINS, in place of yoga's CORS (which reflected any origin, `null`
 * included, with credentials).
 *
 * - `*`: every response says `Access-Control-Allow-Origin: *` and never allows credentials, so a
 *   browser sends no cookies or client certificates with it and no page reads a credentialed
 *   answer. The literal `*` is answered whatever the `Origin` (an `Origin: null` is not echoed).
 * - A list: a request whose `Origin` is exactly a listed origin gets that origin echoed with
 *   `Access-Control-Allow-Credentials: true`; any other origin (and `null`, which the configuration
 *   refuses to list) gets no `Access-Control-*` header at all. Every response carries
 *   `Vary: Origin`, since its headers depend on the origin (a shared cache must not hand one
 *   origin's answer to another).
 * - An empty list: no cross-origin grant anywhere; no CORS header on any response.
 *
 * Preflights (`OPTIONS` with `Access-Control-Request-Method`, on any path) are answered here, first
 * in the plugin chain, so they never reach caller auth: browsers send no `Authorization` header
 * with them. A granted origin gets 204 with the allowed methods, headers and a max age. A
 * non-granted origin also gets 204, but without any grant header: the browser then blocks the
 * actual request itself. 204 rather than 403 because the outcome is the same for the browser, the
 * answer stays uniform whatever the path, and a status code tells a probing client nothing about
 * which origins are listed.
 *
 * Grants are added in `onResponse`, so they are on every answer to a granted origin, 401s and
 * error responses included: a browser app can then read why it was refused. The one exception is
 * a response marked with withoutCorsGrant (the GraphiQL page).
 */
export function useCors({ origins }: CorsOptions): Plugin {
  const anyOrigin = origins === '*';
  const allowList = new Set(anyOrigin ? [] : origins.filter((origin) => origin !== 'null'));
  // Whether an answer depends on the request's Origin (only with a non-empty allow-list).
  const variesByOrigin = !anyOrigin && allowList.size > 0;

  /** The `Access-Control-Allow-Origin` value for a request, or undefined for no grant. */
  function grantFor(request: Request): string | undefined {
    if (anyOrigin) return '*';
    const origin = request.headers.get('origin');
    return origin !== null && allowList.has(origin) ? origin : undefined;
  }

  return {
    onRequest({ request, endResponse, fetchAPI }) {
      if (request.method !== 'OPTIONS' || !request.headers.has('access-control-request-method')) return;
      const headers = new fetchAPI.Headers();
      const grant = grantFor(request);
      if (grant !== undefined) {
        headers.set('Access-Control-Allow-Methods', ALLOW_METHODS);
        headers.set('Access-Control-Allow-Headers', ALLOW_HEADERS);
        headers.set('Access-Control-Max-Age', MAX_AGE);
      }
      // Origin grant, credentials and Vary are added by onResponse, as on every other answer.
      endResponse(new fetchAPI.Response(null, { status: 204, headers }));
    },

    onResponse({ request, response, setResponse, fetchAPI }) {
      if (neverGranted.has(response)) return;
      const grant = grantFor(request);
      if (grant === undefined && !variesByOrigin) return;
      const addHeaders = (headers: Headers) => {
        if (variesByOrigin) appendVary(headers, 'Origin');
        if (grant === undefined) return;
        headers.set('Access-Control-Allow-Origin', grant);
        if (grant !== '*') headers.set('Access-Control-Allow-Credentials', 'true');
        if (request.method !== 'OPTIONS') headers.set('Access-Control-Expose-Headers', EXPOSE_HEADERS);
      };
      try {
        addHeaders(response.headers);
      } catch {
        // A response with immutable headers (one passed through from fetch): answer a copy instead.
        const headers = new fetchAPI.Headers(response.headers);
        addHeaders(headers);
        setResponse(new fetchAPI.Response(response.body, { status: response.status, statusText: response.statusText, headers }));
      }
    },
  };
}

/** Adds a field name to `Vary`, keeping what is there. */
function appendVary(headers: Headers, field: string): void {
  const current = headers.get('vary');
  if (!current) {
    headers.set('Vary', field);
    return;
  }
  const fields = current.split(',').map((part) => part.trim().toLowerCase());
  if (fields.includes('*') || fields.includes(field.toLowerCase())) return;
  headers.set('Vary', `${current}, ${field}`);
}
