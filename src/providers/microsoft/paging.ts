import { BadUserInputError } from '../../errors.js';

/**
 * Microsoft Graph's paging, read without ever fetching a URL Graph hands back. A collection page
 * ends with an absolute `@odata.nextLink` carrying `$skip` (events) or an opaque `$skiptoken`
 * (messages, drive items). The gateway keeps only that one parameter (the page token of a cursor)
 * and rebuilds the next request itself from MICROSOFT_GRAPH_URL, the field's fixed path and its
 * `$select`/`$top`: a nextLink elsewhere, or a forged cursor, cannot steer where a token is sent.
 */

/** Where a listing goes after a page, read from its `@odata.nextLink`. */
export type NextPage =
  /** Continue with this page token (`$skip=<n>` or `$skiptoken=<value>`). */
  | { kind: 'next'; token: string }
  /** The last page (no nextLink). */
  | { kind: 'end' }
  /** A nextLink the gateway will not follow: `where` is its origin and path, never its query. */
  | { kind: 'refused'; where: string; reason: 'outside_graph_url' | 'no_skip_token' };

/** Query parameters Graph pages with; a page token is one of them with its value. */
const SKIP_PARAMETERS = ['$skiptoken', '$skip'] as const;

// A skip token is Graph's opaque text; anything longer is not one Graph made.
const MAX_SKIP_TOKEN_LENGTH = 4096;
const SKIP = /^(0|[1-9]\d{0,8})$/;
// Graph's skip tokens are printable ASCII (base64-like); nothing else is sent as one.
const PRINTABLE = /^[\x21-\x7e]+$/;

/**
 * Reads a page's `@odata.nextLink` against the configured Graph base URL: followed only when it has
 * the same origin and lies under the base path (`https://graph.microsoft.com/v1.0/…`), and then only
 * through its `$skiptoken` or `$skip` value.
 */
export function readNextLink(nextLink: unknown, graphUrl: string): NextPage {
  if (nextLink === undefined || nextLink === null) return { kind: 'end' };
  if (typeof nextLink !== 'string' || !URL.canParse(nextLink)) return { kind: 'refused', where: 'an unreadable link', reason: 'outside_graph_url' };
  const link = new URL(nextLink);
  const base = new URL(graphUrl);
  const where = `${link.origin}${link.pathname}`;
  const basePath = base.pathname.replace(/\/+$/, '');
  if (link.origin !== base.origin || !link.pathname.startsWith(`${basePath}/`) || link.username || link.password) {
    return { kind: 'refused', where, reason: 'outside_graph_url' };
  }
  for (const name of SKIP_PARAMETERS) {
    const value = link.searchParams.get(name);
    if (value !== null && isSkipValue(name, value)) return { kind: 'next', token: `${name}=${value}` };
  }
  return { kind: 'refused', where, reason: 'no_skip_token' };
}

/** The query parameter of a page token from a cursor; a token the gateway did not make is the caller's error. */
export function skipParameter(token: string): [name: string, value: string] {
  const separator = token.indexOf('=');
  const name = token.slice(0, separator);
  const value = token.slice(separator + 1);
  if (separator < 0 || !(SKIP_PARAMETERS as readonly string[]).includes(name) || !isSkipValue(name, value)) {
    throw new BadUserInputError('`after` is not a cursor of this Microsoft Graph listing.');
  }
  return [name, value];
}

/**
 * The URL of one page: `<graphUrl><path>?$select=…&$top=…` plus the page token's parameter. Graph
 * reads `$`-prefixed system query options; values are percent-encoded.
 */
export function graphListUrl(graphUrl: string, path: string, select: readonly string[], top: number, token?: string): string {
  const parameters: [string, string][] = [
    ['$select', select.join(',')],
    ['$top', String(top)],
  ];
  if (token !== undefined) parameters.push(skipParameter(token));
  return `${graphUrl}${path}?${parameters.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join('&')}`;
}

function isSkipValue(name: string, value: string): boolean {
  if (name === '$skip') return SKIP.test(value);
  return value.length <= MAX_SKIP_TOKEN_LENGTH && PRINTABLE.test(value);
}
