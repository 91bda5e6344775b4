import type { GatewayConfig } from '../../config.js';
import { BadUserInputError, ConfigurationError } from '../../errors.js';
import { oauth2Api } from './api.js';

/**
 * The URL a custom OAuth 2.0 passthrough may be sent to. The caller picks the path, so it is
 * checked strictly before anything is sent: the user's token must reach only URLs under the
 * connection's configured `apiUrl`, whatever a caller, a proxy or the upstream's own path
 * normalisation (percent-decoding, `..`, `;` parameters, backslashes) would make of it. Pure
 * functions: each refusal is BAD_USER_INPUT naming the rule.
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
/**
 * Encodings that, decoded later by some server, could change the path: ".", "/", "\", "%" (double
 * encoding), ";" (servers that decode before dropping `;` parameters would see `..;` in `..%3b`),
 * control characters (C0, DEL, and C1 as UTF-8 `%c2%80`–`%c2%9f`), and overlong UTF-8 forms
 * (`%c0`, `%c1`, `%e0%80`–`%e0%9f`, `%f0%80`–`%f0%8f`), which lenient decoders turn into "." or "/".
 */
const DANGEROUS_ENCODING = /%(2e|2f|5c|25|3b|[01][0-9a-f]|7f|c0|c1|c2%[89][0-9a-f]|e0%[89][0-9a-f]|f0%8[0-9a-f])/i;
const MALFORMED_ENCODING = /%(?![0-9a-f]{2})/i;
// eslint-disable-next-line no-control-regex -- matching control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** The path as given, or BAD_USER_INPUT saying which rule it breaks. */
export function checkedPath(path: string): string {
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
  if (DANGEROUS_ENCODING.test(path)) refuse('must not contain percent-encoded ".", "/", "\\", "%", ";", control characters or overlong UTF-8');
  // "..;" counts too: some servers drop `;` parameters before resolving dot segments.
  if (path.split('/').some((segment) => ['.', '..'].includes(segment.split(';')[0] ?? ''))) refuse('must not contain "." or ".." segments');
  if (!PATH_CHARACTERS.test(path)) refuse('may contain only URL path characters (RFC 3986); percent-encode anything else');
  return path;
}

/** `query` as name/value pairs in the caller's order, or BAD_USER_INPUT. */
export function queryParameters(query: unknown): [string, string][] {
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
export function requestUrl(config: GatewayConfig, connection: string, path: string, parameters: [string, string][]): string {
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
