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

/** What a connection field resolves to. */
export interface ConnectionShape<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

interface Cursor {
  /** The field the cursor belongs to. */
  f: string;
  /** Provider token of the page (absent: the first page). */
  t?: string;
  /** Items of that page already seen. */
  o: number;
}

/** The Relay page info shared by every connection. */
export const PageInfo = builder.objectRef<ConnectionShape<unknown>['pageInfo']>('PageInfo').implement({
  description: 'Where a page of a connection ends and whether more follow.',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage', { description: 'Whether another page follows; pass endCursor as `after` to get it.' }),
    endCursor: t.exposeString('endCursor', { nullable: true, description: 'Opaque cursor after the last edge; null when the page is empty.' }),
  }),
});

/** Declares `<name>Connection` and `<name>Edge` for a node type. */
export function connectionType<T>(name: string, node: ObjectRef<GatewaySchemaTypes, T>, nodeDescription: string) {
  const edge = builder.objectRef<{ cursor: string; node: T }>(`${name}Edge`).implement({
    description: `One ${nodeDescription} and its cursor.`,
    fields: (t) => ({
      cursor: t.exposeString('cursor', { description: 'Opaque cursor; pass it as `after` to continue after this edge.' }),
      // Pothos cannot check a generic node type; the edge holds exactly what `node` expects.
      node: t.field({ type: node, description: `The ${nodeDescription}.`, resolve: (e) => e.node as never }),
    }),
  });
  return builder.objectRef<ConnectionShape<T>>(`${name}Connection`).implement({
    description: `A page of ${nodeDescription}s (Relay connection).`,
    fields: (t) => ({
      edges: t.field({ type: [edge], description: 'The items of this page, in provider order.', resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfo, description: 'Whether more items follow, and the cursor to get them.', resolve: (c) => c.pageInfo }),
    }),
  });
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
  if (size === 0) return { edges: [], pageInfo: { hasNextPage: true, endCursor: args.after ?? null } };
  const page = await fetchPage(from.t, Math.min(from.o + size, maxPageSize));
  const items = page.items.slice(from.o, from.o + size);
  const edges = items.map((node, index) => ({ node, cursor: encodeCursor({ f: field, t: from.t, o: from.o + index + 1 }) }));
  const restOfPage = page.items.length > from.o + size;
  const hasNextPage = restOfPage || page.next !== undefined;
  let endCursor: string | null = edges.at(-1)?.cursor ?? null;
  // The end of a provider page continues with the provider's own token.
  if (!restOfPage && page.next !== undefined) endCursor = encodeCursor({ f: field, t: page.next, o: 0 });
  return { edges, pageInfo: { hasNextPage, endCursor } };
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
  const valid =
    cursor && cursor.f === field && Number.isInteger(cursor.o) && (cursor.o ?? -1) >= 0 && (cursor.t === undefined || typeof cursor.t === 'string');
  if (!valid) throw new BadUserInputError(`\`after\` is not a cursor of ${field}.`);
  return cursor as Cursor;
}
