import type { ObjectRef } from '@pothos/core';
import { BadUserInputError } from '../errors.js';
import { builder, type GatewaySchemaTypes } from './builder.js';

/**
 * Relay connections over providers' own paging (Google `pageToken`, Facebook cursors, Bitbucket
 * page numbers). A provider page is fetched with a token; an edge's cursor remembers the token of
 * its page and its position in it, so a client may resume after any edge, and `endCursor` is the
 * provider's next-page token. Cursors are opaque (base64url JSON) and tagged with their field, so
 * a cursor of one field is refused by another instead of being sent upstream.
 */

/** One page as a provider returns it. */
export interface ProviderPage<T> {
  items: T[];
  /** The provider's token of the next page; undefined on the last page. */
  next?: string;
}

/** Fetches the page that starts at `token` (undefined: the first) with at most `size` items. */
export type PageFetcher<T> = (token: string | undefined, size: number) => Promise<ProviderPage<T>>;

/** What a connection field resolves to (the relay plugin's connection shape). */
export interface ConnectionShape<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

interface Cursor {
  /** The field the cursor belongs to. */
  f: string;
  /** Provider token of the page (absent: the first page). */
  t?: string;
  /** Items of that page already seen. */
  o: number;
}

/** Declares `<name>Connection` and `<name>Edge` for a node type (the relay plugin's types; PageInfo is shared). */
export function connectionType<T>(name: string, node: ObjectRef<GatewaySchemaTypes, T>, nodeDescription: string) {
  return builder.connectionObject(
    { name: `${name}Connection`, type: node, description: `A page of ${nodeDescription}s (Relay connection).` },
    { name: `${name}Edge`, description: `One ${nodeDescription} and its cursor.`, nodeField: { description: `The ${nodeDescription}.` } },
  );
}

/**
 * Resolves `first`/`after` against a provider's paging. `first` is capped at the provider's
 * maximum page size; resuming in the middle of a provider page re-reads that page and skips what
 * was seen. Pages may come back shorter than asked (providers filter); the connection then simply
 * has fewer edges and still says whether more follow.
 */
export async function paginate<T>(
  field: string,
  args: { first?: number | null; after?: string | null },
  maxPageSize: number,
  fetchPage: PageFetcher<T>,
): Promise<ConnectionShape<T>> {
  const first = args.first ?? 10;
  if (first < 0) throw new BadUserInputError('`first` must not be negative.');
  const size = Math.min(first, maxPageSize);
  const from = args.after ? decodeCursor(field, args.after) : { f: field, o: 0 };
  // With `after`, the items up to that cursor come before this page.
  const hasPreviousPage = Boolean(args.after);
  if (size === 0) return { edges: [], pageInfo: { hasNextPage: true, hasPreviousPage, startCursor: null, endCursor: args.after ?? null } };
  const page = await fetchPage(from.t, Math.min(from.o + size, maxPageSize));
  const items = page.items.slice(from.o, from.o + size);
  const edges = items.map((node, index) => ({ node, cursor: encodeCursor({ f: field, t: from.t, o: from.o + index + 1 }) }));
  const restOfPage = page.items.length > from.o + size;
  const hasNextPage = restOfPage || page.next !== undefined;
  let endCursor: string | null = edges.at(-1)?.cursor ?? null;
  // The end of a provider page continues with the provider's own token.
  if (!restOfPage && page.next !== undefined) endCursor = encodeCursor({ f: field, t: page.next, o: 0 });
  return { edges, pageInfo: { hasNextPage, hasPreviousPage, startCursor: edges[0]?.cursor ?? null, endCursor } };
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(field: string, text: string): Cursor {
  let cursor: Partial<Cursor> | undefined;
  try {
    cursor = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<Cursor>;
  } catch {
    cursor = undefined;
  }
  const valid = cursor && cursor.f === field && Number.isInteger(cursor.o) && (cursor.o ?? -1) >= 0 && (cursor.t === undefined || typeof cursor.t === 'string');
  if (!valid) throw new BadUserInputError(`\`after\` is not a cursor of ${field}.`);
  return cursor as Cursor;
}
