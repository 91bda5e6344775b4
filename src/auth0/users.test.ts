import { describe, expect, it } from 'vitest';
import { userIdQuery } from './users.js';

// userIdQuery builds the Lucene query of a Management API search (search_engine v3) for a batch of
// user ids. Ids come from callers (`users(ids:)`), so quoting is a security boundary: whatever an
// id contains, it must stay one exact phrase inside the query and never widen the search.

/**
 * Reads `user_id:("…" OR "…")` back into its ids the way Lucene's query parser reads quoted
 * phrases (backslash escapes the next character). Throws on anything else, e.g. text outside the
 * quotes, which is where an injected clause would land.
 */
function parseQuery(query: string): string[] {
  const prefix = 'user_id:(';
  if (!query.startsWith(prefix) || !query.endsWith(')')) throw new Error(`not a user_id query: ${query}`);
  const inner = query.slice(prefix.length, -1);
  const ids: string[] = [];
  let i = 0;
  for (;;) {
    if (inner[i] !== '"') throw new Error(`expected a quote at ${i} in ${inner}`);
    i += 1;
    let id = '';
    for (;;) {
      if (i >= inner.length) throw new Error(`unterminated phrase in ${inner}`);
      const char = inner[i]!;
      if (char === '\\') {
        if (i + 1 >= inner.length) throw new Error(`dangling escape in ${inner}`);
        id += inner[i + 1];
        i += 2;
      } else if (char === '"') {
        i += 1;
        break;
      } else {
        id += char;
        i += 1;
      }
    }
    ids.push(id);
    if (i === inner.length) return ids;
    if (!inner.startsWith(' OR ', i)) throw new Error(`unexpected text after a phrase at ${i} in ${inner}`);
    i += 4;
  }
}

describe('userIdQuery', () => {
  it('quotes each id and joins them with OR', () => {
    expect(userIdQuery(['auth0|123'])).toBe('user_id:("auth0|123")');
    expect(userIdQuery(['auth0|123', 'google-oauth2|456'])).toBe('user_id:("auth0|123" OR "google-oauth2|456")');
  });

  it('keeps ids with |, -, : and dots whole (unquoted they would be split or read as syntax)', () => {
    const ids = ['auth0|64f1c0ffee', 'google-oauth2|109876543210', 'samlp|corp|jane.doe@example.com', 'oauth2|custom:provider|42', 'windowslive|abc-def'];
    expect(parseQuery(userIdQuery(ids))).toEqual(ids);
  });

  it('escapes a double quote, so an id cannot close its phrase', () => {
    expect(userIdQuery(['a"b'])).toBe('user_id:("a\\"b")');
    const hostile = 'x" OR user_id:* OR "y';
    expect(parseQuery(userIdQuery([hostile]))).toEqual([hostile]);
  });

  it('escapes a backslash, so an id cannot escape its closing quote', () => {
    expect(userIdQuery(['a\\b'])).toBe('user_id:("a\\\\b")');
    // Without escaping, the trailing backslash would swallow the closing quote and the next id
    // would be read as query syntax.
    const ids = ['auth0|evil\\', ' OR user_id:*) OR (email:"', 'auth0|ok'];
    expect(parseQuery(userIdQuery(ids))).toEqual(ids);
  });

  it('escapes quotes and backslashes in every position and combination', () => {
    const ids = ['"', '\\', '\\"', '"\\', '""', '\\\\', 'a\\"b"c\\', '"leading', 'trailing"', '\\leading', 'trailing\\'];
    expect(parseQuery(userIdQuery(ids))).toEqual(ids);
    for (const id of ids) expect(parseQuery(userIdQuery([id]))).toEqual([id]);
  });

  it('leaves other Lucene syntax inert inside the quotes', () => {
    const ids = ['a*', 'b?', '(c)', 'd OR e', 'f AND NOT g', 'h:i', '[j TO k]', '{l}', 'm~', 'n^2', '+o', '-p', '!q', '/r/', 'a && b', 's || t', 'user_id:*'];
    const query = userIdQuery(ids);
    expect(parseQuery(query)).toEqual(ids);
    // Nothing outside the quoted phrases but the OR separators.
    expect(query.replace(/"(?:[^"\\]|\\.)*"/g, '""')).toBe(`user_id:(${ids.map(() => '""').join(' OR ')})`);
  });

  it('keeps unicode, spaces and the empty id as they are', () => {
    const ids = ['auth0|jöhn dœ', '', '  ', 'auth0|🙂'];
    expect(parseQuery(userIdQuery(ids))).toEqual(ids);
  });

  it('keeps the order and duplicates of its input', () => {
    const ids = ['b', 'a', 'b'];
    expect(parseQuery(userIdQuery(ids))).toEqual(ids);
  });

  it('stays parseable for a full batch of 100 ids', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `auth0|${i}"\\${i}`);
    expect(parseQuery(userIdQuery(ids))).toEqual(ids);
  });
});
