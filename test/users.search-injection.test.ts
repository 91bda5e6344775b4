import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawUser, startHarness, type Harness } from './helpers/harness.js';

// `users(ids:)` reads uncached ids with one Auth0 user search per chunk, a Lucene query built from
// the ids the caller sent: `user_id:("id1" OR "id2" …)`. An id is caller input, so a `"` or `\` in
// it must stay inside its quoted value. Unescaped, a crafted id closes the quotes and adds its own
// terms: `x" OR * OR "y` matches every user of the tenant, `x") OR email:* OR user_id:("y` too, and
// a trailing `\` swallows the closing quote. The search would then return (and the gateway read and
// cache) users nobody asked for, or Auth0 would refuse the whole query and the real users with it.
//
// The fake tenant parses the query as Auth0's v3 search does and records which users each search
// returned; its request log shows which ids were read one by one with GET /users/{id}.

const QUERY = 'query ($ids: [ID!]!) { users(ids: $ids) { id name } }';
type Answer = { users: ({ id: string; name: string } | null)[] };

let h: Harness;
let partner: string;
let nextUser = 0;

beforeAll(async () => {
  h = await startHarness();
  partner = await h.token('partner-app@clients', 'read:users');
});
afterAll(async () => h?.close());

/** Users that exist in the tenant and are in no cache yet (the seed users exist too: nobody asks for them). */
function addRealUsers(count: number): string[] {
  return Array.from({ length: count }, () => {
    nextUser += 1;
    const id = `auth0|search-injection-${nextUser}`;
    h.sandbox.tenant.addUser(rawUser(id));
    return id;
  });
}

/** Asks for `ids` as a partner; returns the answer and what the tenant did for it. */
async function askFor(ids: string[]): Promise<{ users: Answer['users'] | undefined; errors: unknown; searches: number; searched: string[][]; gets: string[] }> {
  const tenant = h.sandbox.tenant;
  const searchesBefore = tenant.count('searchUsers');
  const resultsBefore = tenant.searchResults.length;
  const requestsBefore = tenant.requests.length;
  const answer = await h.query<Answer>(partner, QUERY, { ids });
  const gets = tenant.requests
    .slice(requestsBefore)
    .filter((request) => request.route === 'getUser')
    .map((request) => decodeURIComponent(new URL(request.url, 'http://tenant').pathname.split('/').pop()!));
  return {
    users: answer.data?.users,
    errors: answer.errors,
    searches: tenant.count('searchUsers') - searchesBefore,
    searched: tenant.searchResults.slice(resultsBefore),
    gets,
  };
}

/** The answer must have every real user in place and null for every crafted id; Auth0 must have read only what was asked. */
function expectOnlyAskedUsers(result: Awaited<ReturnType<typeof askFor>>, ids: string[], real: string[], crafted: string[]): void {
  expect(result.errors).toBeUndefined();
  expect(result.users?.map((user) => user?.id ?? null)).toEqual(ids.map((id) => (real.includes(id) ? id : null)));
  // One search, and everything it returned was asked for: exactly the real users.
  expect(result.searches).toBe(1);
  expect(result.searched).toHaveLength(1);
  for (const returned of result.searched.flat()) expect(ids).toContain(returned);
  expect([...result.searched[0]!].sort()).toEqual([...real].sort());
  // The search answered every real user, so only the crafted ids (which match nobody) are read one by one.
  expect([...result.gets].sort()).toEqual([...crafted].sort());
}

describe('users(ids:) with crafted ids', () => {
  it('a crafted id cannot widen the search to users nobody asked for', async () => {
    const real = addRealUsers(3);
    const crafted = ['x" OR * OR "y', 'x") OR email:* OR user_id:("y', '*', 'auth0|a\\" OR \\"google-oauth2|111199914890750704174'];
    const ids = [real[0]!, crafted[0]!, real[1]!, crafted[1]!, crafted[2]!, real[2]!, crafted[3]!];
    expectOnlyAskedUsers(await askFor(ids), ids, real, crafted);
  });

  it('quotes, backslashes, wildcards and operators in ids leave the real users of the batch answered by the one search', async () => {
    const real = addRealUsers(3);
    const crafted = ['x" OR user_id:*', 'foo\\', 'auth0|a\\" OR \\"auth0|search-injection-1', ' OR ', 'user_id:*', '"'];
    const ids = [real[0]!, ...crafted.slice(0, 3), real[1]!, ...crafted.slice(3), real[2]!];
    expectOnlyAskedUsers(await askFor(ids), ids, real, crafted);
  });
});
