import { describe, expect, it } from 'vitest';
import { BadUserInputError } from '../errors.js';
import { paginate, type ConnectionShape, type PageFetcher, type ProviderPage } from './pagination.js';

// paginate turns a provider's own paging (Google page tokens, Facebook cursors, Bitbucket page
// numbers) into a Relay connection for `first`/`after`. An edge's cursor remembers the provider
// token of its page and its position in it, so a client may resume after any edge; the end of a
// provider page continues with the provider's next-page token. Cursors are opaque and tagged with
// their field: a foreign or malformed cursor is BAD_USER_INPUT and never reaches a provider.

/** A provider page fetcher that records its calls. */
interface FakeProvider<T> {
  fetch: PageFetcher<T>;
  calls: { token: string | undefined; size: number }[];
}

/**
 * A provider with fixed pages (in-memory), each naming the next by a token, like a provider that
 * counts its pages in its own size (a Bitbucket page token carries its pagelen): a page comes back
 * whole, whatever size is asked. The first page has no token; page i has the token `page-<i>`.
 */
function fixedPages<T>(pages: T[][]): FakeProvider<T> {
  const calls: FakeProvider<T>['calls'] = [];
  const fetch: PageFetcher<T> = async (token, size) => {
    calls.push({ token, size });
    const index = token === undefined ? 0 : Number(/^page-(\d+)$/.exec(token)?.[1] ?? Number.NaN);
    const items = pages[index];
    if (!items) throw new Error(`the fake provider has no page ${token}`);
    return index + 1 < pages.length ? { items: [...items], next: `page-${index + 1}` } : { items: [...items] };
  };
  return { fetch, calls };
}

/**
 * A provider whose page token is a position in one list (like Google's pageToken or Facebook's
 * `after`): a page has at most the size asked. `hidden` items are skipped (providers filter, so
 * pages come back short or empty before the last one), and `trailingEmptyPage` gives the last
 * page a next token that leads to an empty page, as Google may.
 */
function positional<T>(items: T[], options: { hidden?: (item: T) => boolean; trailingEmptyPage?: boolean } = {}): FakeProvider<T> {
  const calls: FakeProvider<T>['calls'] = [];
  const fetch: PageFetcher<T> = async (token, size) => {
    calls.push({ token, size });
    if (size < 1) throw new Error('a provider page of fewer than 1 item was asked for');
    const start = token === undefined ? 0 : Number(/^at:(\d+)$/.exec(token)?.[1] ?? Number.NaN);
    if (!Number.isInteger(start)) throw new Error(`the fake provider never issued the token ${token}`);
    const end = start + size;
    const page: ProviderPage<T> = { items: items.slice(start, end).filter((item) => !options.hidden?.(item)) };
    if (end < items.length || (options.trailingEmptyPage && start < items.length)) page.next = `at:${end}`;
    return page;
  };
  return { fetch, calls };
}

const nodes = <T>(connection: ConnectionShape<T>) => connection.edges.map((edge) => edge.node);
const letters = (text: string) => [...text];

/** The error a promise rejects with; fails the test when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal, but the promise resolved');
}

async function expectBadInput(promise: Promise<unknown>, message: RegExp, label?: string): Promise<void> {
  const error = await rejectionOf(promise);
  expect(error, label).toBeInstanceOf(BadUserInputError);
  expect((error as BadUserInputError).extensions.code, label).toBe('BAD_USER_INPUT');
  expect((error as BadUserInputError).message, label).toMatch(message);
}

/** A cursor as paginate encodes one (base64url JSON), for forging malformed ones. */
const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Follows endCursor from the start until hasNextPage is false; every connection returned, in order. */
async function walk<T>(field: string, first: number, maxPageSize: number, fetch: PageFetcher<T>, after?: string): Promise<ConnectionShape<T>[]> {
  const connections: ConnectionShape<T>[] = [];
  let cursor = after;
  for (let guard = 0; guard < 1000; guard++) {
    const connection = await paginate(field, { first, after: cursor }, maxPageSize, fetch);
    connections.push(connection);
    if (!connection.pageInfo.hasNextPage) return connections;
    expect(connection.pageInfo.endCursor, 'a connection with a next page has an endCursor').not.toBeNull();
    cursor = connection.pageInfo.endCursor ?? undefined;
  }
  throw new Error('the walk did not end');
}

describe('paginate: the first page', () => {
  it('returns the first `first` items with their cursors and page info', async () => {
    const provider = positional(letters('abcdefghij'));
    const connection = await paginate('google.driveFiles', { first: 3 }, 100, provider.fetch);
    expect(nodes(connection)).toEqual(['a', 'b', 'c']);
    expect(provider.calls).toEqual([{ token: undefined, size: 3 }]);
    expect(connection.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false, startCursor: connection.edges[0]?.cursor });
    expect(new Set(connection.edges.map((edge) => edge.cursor)).size).toBe(3);
  });

  it('asks for 10 items when `first` is absent or null', async () => {
    for (const first of [undefined, null]) {
      const provider = positional(Array.from({ length: 30 }, (_, i) => i));
      const connection = await paginate('google.driveFiles', { first }, 100, provider.fetch);
      expect(nodes(connection)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(provider.calls).toEqual([{ token: undefined, size: 10 }]);
    }
  });

  it('caps `first` at the provider’s largest page size', async () => {
    const provider = positional(Array.from({ length: 300 }, (_, i) => i));
    const connection = await paginate('google.calendarEvents', { first: 1000 }, 50, provider.fetch);
    expect(connection.edges).toHaveLength(50);
    expect(provider.calls).toEqual([{ token: undefined, size: 50 }]);
    expect(connection.pageInfo.hasNextPage).toBe(true);
  });

  it('never asks a provider for more than its largest page, even when resuming deep in a page', async () => {
    const provider = positional(Array.from({ length: 300 }, (_, i) => i));
    const first = await paginate('google.calendarEvents', { first: 50 }, 50, provider.fetch);
    const fortieth = first.edges[39]?.cursor;
    const second = await paginate('google.calendarEvents', { first: 50, after: fortieth }, 50, provider.fetch);
    expect(provider.calls.every((call) => call.size <= 50)).toBe(true);
    // The rest of that provider page, then the next page through endCursor: nothing skipped.
    expect(nodes(second)).toEqual(Array.from({ length: 10 }, (_, i) => 40 + i));
    const third = await paginate('google.calendarEvents', { first: 50, after: second.pageInfo.endCursor }, 50, provider.fetch);
    expect(nodes(third)[0]).toBe(50);
  });

  it('is empty with no next page for an empty list', async () => {
    const connection = await paginate('facebook.friends', { first: 25 }, 100, positional<string>([]).fetch);
    expect(connection).toEqual({ edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } });
  });
});

describe('paginate: first = 0 and negative first', () => {
  it('answers `first: 0` without calling the provider', async () => {
    const provider = positional(letters('abc'));
    const connection = await paginate('google.driveFiles', { first: 0 }, 100, provider.fetch);
    expect(provider.calls).toEqual([]);
    expect(connection.edges).toEqual([]);
    expect(connection.pageInfo).toMatchObject({ hasPreviousPage: false, startCursor: null, endCursor: null });
  });

  it('keeps the position of `after` for `first: 0`, so the client can go on from there', async () => {
    const provider = positional(letters('abcdef'));
    const page = await paginate('google.driveFiles', { first: 2 }, 100, provider.fetch);
    const after = page.pageInfo.endCursor;
    const empty = await paginate('google.driveFiles', { first: 0, after }, 100, provider.fetch);
    expect(provider.calls).toHaveLength(1);
    expect(empty.edges).toEqual([]);
    expect(empty.pageInfo).toMatchObject({ hasPreviousPage: true, startCursor: null, endCursor: after });
    expect(nodes(await paginate('google.driveFiles', { first: 2, after: empty.pageInfo.endCursor }, 100, provider.fetch))).toEqual(['c', 'd']);
  });

  it('refuses a negative `first` without calling the provider', async () => {
    const provider = positional(letters('abc'));
    for (const first of [-1, -100]) {
      await expectBadInput(paginate('google.driveFiles', { first }, 100, provider.fetch), /`first` must not be negative/, String(first));
    }
    expect(provider.calls).toEqual([]);
  });
});

describe('paginate: resuming', () => {
  it('resumes after an edge in the middle of a provider page: re-reads that page and skips what was seen', async () => {
    const provider = fixedPages([letters('abcdef'), letters('ghi')]);
    const first = await paginate('bitbucket.repositories', { first: 2 }, 100, provider.fetch);
    expect(nodes(first)).toEqual(['a', 'b']);
    // The provider page had more: endCursor is the last edge's, and more follow.
    expect(first.pageInfo.endCursor).toBe(first.edges[1]?.cursor);
    expect(first.pageInfo.hasNextPage).toBe(true);

    const second = await paginate('bitbucket.repositories', { first: 3, after: first.pageInfo.endCursor }, 100, provider.fetch);
    expect(nodes(second)).toEqual(['c', 'd', 'e']);
    expect(provider.calls[1]).toEqual({ token: undefined, size: 5 }); // the same page, large enough for what was seen and what is asked

    const fromA = await paginate('bitbucket.repositories', { first: 2, after: first.edges[0]?.cursor }, 100, provider.fetch);
    expect(nodes(fromA)).toEqual(['b', 'c']);
  });

  it('resumes in the middle of a later provider page through its token', async () => {
    const provider = fixedPages([letters('abc'), letters('defgh'), letters('ij')]);
    const page1 = await paginate('bitbucket.workspaces', { first: 3 }, 100, provider.fetch);
    const page2 = await paginate('bitbucket.workspaces', { first: 2, after: page1.pageInfo.endCursor }, 100, provider.fetch);
    expect(nodes(page2)).toEqual(['d', 'e']);
    const page3 = await paginate('bitbucket.workspaces', { first: 2, after: page2.pageInfo.endCursor }, 100, provider.fetch);
    expect(nodes(page3)).toEqual(['f', 'g']);
    expect(provider.calls.map((call) => call.token)).toEqual([undefined, 'page-1', 'page-1']);
  });

  it('continues at the end of a provider page with the provider’s next-page token', async () => {
    const provider = fixedPages([letters('abc'), letters('def')]);
    const first = await paginate('bitbucket.workspaces', { first: 3 }, 100, provider.fetch);
    expect(nodes(first)).toEqual(['a', 'b', 'c']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    // Not the last edge's cursor: that one would re-read the finished page.
    expect(first.pageInfo.endCursor).not.toBe(first.edges[2]?.cursor);
    const second = await paginate('bitbucket.workspaces', { first: 10, after: first.pageInfo.endCursor }, 100, provider.fetch);
    expect(provider.calls.map((call) => call.token)).toEqual([undefined, 'page-1']);
    expect(nodes(second)).toEqual(['d', 'e', 'f']);
  });

  it('passes the provider’s token through for a provider that honours the size', async () => {
    const provider = positional(letters('abcdefg'));
    const first = await paginate('google.driveFiles', { first: 3 }, 100, provider.fetch);
    await paginate('google.driveFiles', { first: 3, after: first.pageInfo.endCursor }, 100, provider.fetch);
    expect(provider.calls).toEqual([
      { token: undefined, size: 3 },
      { token: 'at:3', size: 3 },
    ]);
  });

  it('resumes from the cursor of any edge with exactly the items after it', async () => {
    const items = letters('abcdefghijklmnopq');
    for (const provider of [fixedPages([letters('abcde'), letters('fg'), [], letters('hijklmnop'), letters('q')]), positional(items)]) {
      const edges = (await walk('google.calendarEvents', 4, 6, provider.fetch)).flatMap((connection) => connection.edges);
      for (const [index, edge] of edges.entries()) {
        const rest = (await walk('google.calendarEvents', 3, 6, provider.fetch, edge.cursor)).flatMap(nodes);
        expect(rest, `after ${edge.node}`).toEqual(items.slice(index + 1));
      }
    }
  });
});

describe('paginate: the last page', () => {
  it('says there is no next page at the end of the list, with the last edge as endCursor', async () => {
    const provider = fixedPages([letters('abc'), letters('de')]);
    const first = await paginate('bitbucket.workspaces', { first: 3 }, 100, provider.fetch);
    const last = await paginate('bitbucket.workspaces', { first: 5, after: first.pageInfo.endCursor }, 100, provider.fetch);
    expect(nodes(last)).toEqual(['d', 'e']);
    expect(last.pageInfo.hasNextPage).toBe(false);
    expect(last.pageInfo.endCursor).toBe(last.edges[1]?.cursor);
  });

  it('says there is a next page while the last provider page has items left', async () => {
    const provider = fixedPages([letters('abcd')]);
    const first = await paginate('bitbucket.workspaces', { first: 3 }, 100, provider.fetch);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = await paginate('bitbucket.workspaces', { first: 3, after: first.pageInfo.endCursor }, 100, provider.fetch);
    expect(nodes(rest)).toEqual(['d']);
    expect(rest.pageInfo.hasNextPage).toBe(false);
  });

  it('is empty with no next page after the very last edge', async () => {
    const provider = fixedPages([letters('ab')]);
    const all = await paginate('bitbucket.workspaces', { first: 10 }, 100, provider.fetch);
    expect(all.pageInfo.hasNextPage).toBe(false);
    const after = await paginate('bitbucket.workspaces', { first: 10, after: all.pageInfo.endCursor }, 100, provider.fetch);
    expect(after).toEqual({ edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null } });
  });

  it('follows an empty provider page that still has a next token (Google may send one)', async () => {
    const provider = fixedPages([[], letters('ab')]);
    const empty = await paginate('google.calendarEvents', { first: 5 }, 100, provider.fetch);
    expect(empty.edges).toEqual([]);
    expect(empty.pageInfo).toMatchObject({ hasNextPage: true, startCursor: null });
    expect(empty.pageInfo.endCursor).not.toBeNull();
    const next = await paginate('google.calendarEvents', { first: 5, after: empty.pageInfo.endCursor }, 100, provider.fetch);
    expect(nodes(next)).toEqual(['a', 'b']);
  });
});

describe('paginate: hasPreviousPage and startCursor', () => {
  it('has a previous page exactly when `after` was given', async () => {
    const provider = positional(letters('abcdef'));
    for (const after of [undefined, null]) {
      expect((await paginate('google.driveFiles', { first: 2, after }, 100, provider.fetch)).pageInfo.hasPreviousPage).toBe(false);
    }
    const first = await paginate('google.driveFiles', { first: 2 }, 100, provider.fetch);
    for (const after of [first.edges[0]?.cursor, first.pageInfo.endCursor]) {
      expect((await paginate('google.driveFiles', { first: 2, after }, 100, provider.fetch)).pageInfo.hasPreviousPage).toBe(true);
    }
    // Even when nothing is left after it.
    const everything = await paginate('google.driveFiles', { first: 6 }, 100, provider.fetch);
    expect((await paginate('google.driveFiles', { first: 2, after: everything.pageInfo.endCursor }, 100, provider.fetch)).pageInfo.hasPreviousPage).toBe(true);
  });

  it('starts at the first edge’s cursor, and is null when there are no edges', async () => {
    const provider = fixedPages([letters('abc'), []]);
    const first = await paginate('bitbucket.workspaces', { first: 2 }, 100, provider.fetch);
    expect(first.pageInfo.startCursor).toBe(first.edges[0]?.cursor);
    const second = await paginate('bitbucket.workspaces', { first: 2, after: first.pageInfo.endCursor }, 100, provider.fetch);
    expect(second.pageInfo.startCursor).toBe(second.edges[0]?.cursor);
    expect(nodes(second)).toEqual(['c']);
    const third = await paginate('bitbucket.workspaces', { first: 2, after: second.pageInfo.endCursor }, 100, provider.fetch);
    expect(third.edges).toEqual([]);
    expect(third.pageInfo.startCursor).toBeNull();
  });
});

describe('paginate: cursors', () => {
  it('are opaque: URL-safe text that shows neither the provider’s token nor a position in clear', async () => {
    const provider = fixedPages([letters('abc'), letters('def')]);
    const first = await paginate('bitbucket.workspaces', { first: 2 }, 100, provider.fetch);
    const end = await paginate('bitbucket.workspaces', { first: 1, after: first.pageInfo.endCursor }, 100, provider.fetch);
    const cursors = [...first.edges, ...end.edges].map((edge) => edge.cursor).concat(end.pageInfo.endCursor ?? []);
    expect(cursors.length).toBeGreaterThanOrEqual(4);
    for (const cursor of cursors) {
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(cursor).not.toContain('page-1');
      expect(cursor).not.toContain('bitbucket');
    }
    expect(new Set(cursors).size).toBe(cursors.length);
  });

  it('are tagged with their field: another field refuses them without calling its provider', async () => {
    const calendar = positional(letters('abcdef'));
    const events = await paginate('google.calendarEvents', { first: 2 }, 100, calendar.fetch);
    const drive = positional(letters('uvwxyz'));
    for (const cursor of [events.edges[0]?.cursor, events.pageInfo.endCursor]) {
      await expectBadInput(paginate('google.driveFiles', { first: 2, after: cursor }, 100, drive.fetch), /`after` is not a cursor of google\.driveFiles/);
    }
    const files = await paginate('google.driveFiles', { first: 2 }, 100, drive.fetch);
    await expectBadInput(
      paginate('google.calendarEvents', { first: 2, after: files.pageInfo.endCursor }, 100, calendar.fetch),
      /`after` is not a cursor of google\.calendarEvents/,
    );
    expect(drive.calls).toHaveLength(1);
    expect(calendar.calls).toHaveLength(1);
  });

  it('refuses garbage and malformed cursors without calling the provider', async () => {
    const provider = positional(letters('abcdef'));
    const field = 'facebook.friends';
    const garbage = [
      'garbage',
      'not a cursor',
      '!!!!',
      '{"f":"facebook.friends","o":1}', // JSON, but not encoded
      Buffer.from('not json').toString('base64url'),
      forged(null),
      forged(1),
      forged('facebook.friends'),
      forged([]),
      forged({}),
      forged({ f: field }),
      forged({ o: 1 }),
      forged({ f: 'facebook.friendz', o: 1 }),
      forged({ f: field, o: -1 }), // a negative offset
      forged({ f: field, o: -100, t: 'QVFIUk' }),
      forged({ f: field, o: 1.5 }),
      forged({ f: field, o: '1' }),
      forged({ f: field, o: null }),
      forged({ f: field, o: 1, t: 5 }),
      forged({ f: field, o: 1, t: null }),
      forged({ f: field, o: 1, t: { after: 'x' } }),
    ];
    for (const after of garbage) {
      await expectBadInput(paginate(field, { first: 5, after }, 100, provider.fetch), /`after` is not a cursor of facebook\.friends/, after);
    }
    expect(provider.calls).toEqual([]);
  });
});

describe('paginate: walking a whole list', () => {
  const items = Array.from({ length: 23 }, (_, i) => `item-${i}`);
  const pages = [items.slice(0, 5), items.slice(5, 7), [], items.slice(7, 16), items.slice(16, 17), items.slice(17, 23)];
  const providers: [string, () => FakeProvider<string>][] = [
    ['fixed provider pages of uneven sizes, one empty', () => fixedPages(pages)],
    ['a provider that honours the size', () => positional(items)],
    ['a provider that filters (short and empty pages)', () => positional([...items, 'hidden-1', 'hidden-2'], { hidden: (item) => item.startsWith('hidden') })],
    ['a provider whose last page points to an empty one', () => positional(items, { trailingEmptyPage: true })],
  ];

  for (const [name, make] of providers) {
    it(`yields every item exactly once, in order, for several \`first\` values: ${name}`, async () => {
      for (const first of [1, 2, 3, 4, 5, 7, 10, 23, 24, 100]) {
        const provider = make();
        // The largest provider page (6) is smaller than some fixed pages (9): those come back larger than asked.
        const connections = await walk('google.calendarEvents', first, 6, provider.fetch);
        expect(connections.flatMap(nodes), `first ${first}`).toEqual(items);
        for (const [index, connection] of connections.entries()) {
          expect(connection.edges.length, `first ${first}, page ${index}`).toBeLessThanOrEqual(Math.min(first, 6));
          expect(connection.pageInfo.hasPreviousPage).toBe(index > 0);
          expect(connection.pageInfo.startCursor).toBe(connection.edges[0]?.cursor ?? null);
        }
        expect(
          provider.calls.every((call) => call.size >= 1 && call.size <= 6),
          `first ${first}`,
        ).toBe(true);
        // No provider page is read more often than the walk needs: at most once per connection.
        expect(provider.calls).toHaveLength(connections.length);
      }
    });
  }
});
