import type { GatewayConfig } from '../../config.js';
import { BadUserInputError, ConfigurationError, UpstreamUnavailableError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import { upstreamCalls } from '../../graphql/cost.js';
import { providerGet } from '../../graphql/identity.js';
import { defineProviderIdentity } from '../../graphql/provider-identity.js';
import { oauth2Api } from './api.js';

/** Identities of custom OAuth 2.0 connections (Auth0 strategy `oauth2`). */
export const OAuth2Identity = defineProviderIdentity({
  typeName: 'OAuth2Identity',
  strategies: ['oauth2'],
  description: 'An account at a custom OAuth 2.0 provider, linked through a custom social connection.',
});

/**
 * A custom OAuth 2.0 connection's API as one generic field of OAuth2Identity:
 * `request(path, query)` GETs `<apiUrl><path>` with the user's token. The caller picks the path,
 * so the path is checked strictly before anything is sent: the token must reach only URLs under
 * the connection's configured `apiUrl`, whatever a caller, a proxy or the upstream's own path
 * normalisation (percent-decoding, `..`, `;` parameters, backslashes) would make of it.
 */

// Upper bounds that keep a URL well inside what servers and proxies accept.
const MAX_PATH_LENGTH = 2048;
const MAX_QUERY_PARAMETERS = 100;
const MAX_URL_LENGTH = 8192;

/**
 * Characters of an RFC 3986 path (unreserved, sub-delims, ":", "@", "/", percent-encodings).
 * ":" is allowed (APIs use it: `/v1/items:batchGet`, URNs) because it cannot start a scheme here:
 * the path must start with "/" and is appended to `apiUrl` as text, never resolved against it.
 */
const PATH_CHARACTERS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
/** Encoded ".", "/", "\", "%" (double encoding) and control characters: decoded later, they could change the path. */
const DANGEROUS_ENCODING = /%(2e|2f|5c|25|[01][0-9a-f]|7f)/i;
const MALFORMED_ENCODING = /%(?![0-9a-f]{2})/i;
// eslint-disable-next-line no-control-regex -- matching control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

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

/** The path as given, or BAD_USER_INPUT saying which rule it breaks. */
function checkedPath(path: string): string {
  const refuse = (rule: string): never => {
    const shown = JSON.stringify(path.length > 100 ? `${path.slice(0, 100)}…` : path);
    throw new BadUserInputError(`\`path\` ${rule}; got ${shown}.`);
  };
  if (path.length === 0 || path.length > MAX_PATH_LENGTH) refuse(`must be 1 to ${MAX_PATH_LENGTH} characters long`);
  if (CONTROL_CHARACTERS.test(path)) refuse('must not contain control characters');
  if (/[?#]/.test(path)) refuse('must not contain "?" or "#" (pass query parameters in `query`)');
  if (path.includes('\\')) refuse('must not contain a backslash');
  if (!path.startsWith('/')) refuse('must start with "/" (it is appended to the connection\'s apiUrl)');
  if (path.startsWith('//')) refuse('must not start with "//"');
  if (MALFORMED_ENCODING.test(path)) refuse('has a "%" that does not start a percent-encoding');
  if (DANGEROUS_ENCODING.test(path)) refuse('must not contain percent-encoded ".", "/", "\\", "%" or control characters');
  // "..;" counts too: some servers drop `;` parameters before resolving dot segments.
  if (path.split('/').some((segment) => ['.', '..'].includes(segment.split(';')[0] ?? ''))) refuse('must not contain "." or ".." segments');
  if (!PATH_CHARACTERS.test(path)) refuse('may contain only URL path characters (RFC 3986); percent-encode anything else');
  return path;
}

/** `query` as name/value pairs in the caller's order, or BAD_USER_INPUT. */
function queryParameters(query: unknown): [string, string][] {
  if (query === undefined || query === null) return [];
  if (typeof query !== 'object' || Array.isArray(query)) throw new BadUserInputError('`query` must be a JSON object of parameters.');
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(query)) {
    if (name === '') throw new BadUserInputError('`query` parameter names must not be empty.');
    for (const item of Array.isArray(value) ? (value as unknown[]) : [value]) {
      if (!isScalar(item)) {
        throw new BadUserInputError(`\`query.${name}\` must be a string, number or boolean, or an array of them; got ${JSON.stringify(item) ?? typeof item}.`);
      }
      pairs.push([name, String(item)]);
    }
  }
  if (pairs.length > MAX_QUERY_PARAMETERS) throw new BadUserInputError(`\`query\` has more than ${MAX_QUERY_PARAMETERS} parameters.`);
  return pairs;
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * `<apiUrl><path>?<query>` for the identity's connection. The checked path cannot leave apiUrl;
 * the built URL is checked once more anyway (same origin, path under apiUrl's path, no query or
 * fragment before ours) so that a gap in the rules above still cannot send the token elsewhere.
 */
function requestUrl(config: GatewayConfig, connection: string, path: string, parameters: [string, string][]): string {
  const configured = Object.hasOwn(config.providers.oauth2, connection) ? config.providers.oauth2[connection] : undefined;
  if (!configured?.apiUrl) throw new ConfigurationError(oauth2Api.provider, `the connection ${connection} has no apiUrl in OAUTH2_CONNECTIONS`);
  const base = new URL(configured.apiUrl);
  if (base.search || base.hash) throw new ConfigurationError(oauth2Api.provider, `the apiUrl of ${connection} must not have a query or fragment`);
  const basePath = base.pathname.replace(/\/+$/, '');
  const target = new URL(configured.apiUrl + path);
  if (target.origin !== base.origin || !target.pathname.startsWith(`${basePath}/`) || target.search || target.hash) {
    throw new BadUserInputError(`\`path\` escapes the apiUrl of ${connection}.`);
  }
  for (const [name, value] of parameters) target.searchParams.append(name, value);
  const url = target.toString();
  if (url.length > MAX_URL_LENGTH) throw new BadUserInputError(`The request URL would be longer than ${MAX_URL_LENGTH} characters.`);
  return url;
}
