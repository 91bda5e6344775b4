import type { BenchContext } from '../context.js';
import { postGraphQL } from '../graphql.js';
import { fixed, type Check, type Section } from '../report.js';

/**
 * Scenario (c): a partner reads 100 users with `users(ids:)`, their Google token state and access
 * token, cold (first request on a fresh gateway and store) and warm (the same request again),
 * counting the Management API calls at the fake tenant.
 */

const USERS = 100;
const PER_SEARCH = 50;
const QUERY = 'query ($ids: [ID!]!) { users(ids: $ids) { id google { token { state } accessToken } } }';
/** The same users without any token field: the search alone answers it, GETs only for the ids it missed. */
const QUERY_NO_TOKENS = 'query ($ids: [ID!]!) { users(ids: $ids) { id google { userId connection } } }';

type UsersData = {
  users: ({ id: string; google: { token?: { state: string } | null; accessToken?: string | null; userId?: string } | null } | null)[];
};

/** Adds the users (once per run), each with a Google identity whose tokens the fake Google issued; every tenth is not indexed yet. */
function addUsers(ctx: BenchContext): { ids: string[]; unindexed: number } {
  const { tenant, google } = ctx.sandbox;
  const now = new Date().toISOString();
  const ids: string[] = [];
  let unindexed = 0;
  for (let i = 0; i < USERS; i++) {
    const sub = `9000000000${String(i).padStart(6, '0')}`;
    const id = `google-oauth2|${sub}`;
    ids.push(id);
    if (tenant.user(id)) continue;
    google.addAccount({ sub, email: `bench${i}@example.com`, emailVerified: true, name: `Bench User ${i}` });
    const tokens = google.issueTokens(sub);
    tenant.addUser({
      user_id: id,
      email: `bench${i}@example.com`,
      name: `Bench User ${i}`,
      created_at: now,
      updated_at: now,
      last_login: now,
      identities: [
        {
          provider: 'google-oauth2',
          user_id: sub,
          connection: 'google-oauth2',
          isSocial: true,
          access_token: tokens.access_token,
          refresh_token: tokens.refresh_token,
          expires_in: tokens.expires_in,
        },
      ],
    });
  }
  ids.forEach((id, i) => {
    if (i % 10 === 3) {
      tenant.unindexed.add(id);
      unindexed++;
    }
  });
  return { ids, unindexed };
}

/** How complete an answer is: users found, with a token state and an access token (or, without token fields, with their Google identity). */
function completeness(data: UsersData | null | undefined): { users: number; states: number; tokens: number; identities: number } {
  const users = (data?.users ?? []).filter((user) => user !== null);
  return {
    users: users.length,
    states: users.filter((user) => typeof user.google?.token?.state === 'string').length,
    tokens: users.filter((user) => typeof user.google?.accessToken === 'string' && user.google.accessToken.length > 0).length,
    identities: users.filter((user) => typeof user.google?.userId === 'string').length,
  };
}

export async function scenarioC(ctx: BenchContext): Promise<Section> {
  const { tenant } = ctx.sandbox;
  const { ids, unindexed } = addUsers(ctx);
  const partner = await tenant.issueAccessToken({ sub: 'bench-partner@clients', scope: 'read:users read:user_idp_tokens' });
  const allowedSearches = Math.ceil(USERS / PER_SEARCH);
  const rows: string[][] = [];
  const checks: Check[] = [];
  const notes: string[] = [];

  // The target allows one GET per id the search missed. A search that carries no provider tokens
  // misses the tokens of every id, so a query that needs them costs one GET per user whatever the
  // gateway does; without token fields the search alone must do.
  const variants = [
    {
      label: 'search without tokens (sandbox default), no token fields',
      searchReturnsTokens: false,
      query: QUERY_NO_TOKENS,
      missed: unindexed,
      wantsTokens: false,
    },
    { label: 'search without tokens (sandbox default), token fields', searchReturnsTokens: false, query: QUERY, missed: USERS, wantsTokens: true },
    { label: 'search with tokens (`searchReturnsTokens`), token fields', searchReturnsTokens: true, query: QUERY, missed: unindexed, wantsTokens: true },
  ];
  for (const variant of variants) {
    tenant.options.searchReturnsTokens = variant.searchReturnsTokens;
    // A fresh gateway and key prefix: nothing cached, no Management token yet.
    const gateway = await ctx.startGateway(`gateway-users-${variants.indexOf(variant)}`, await ctx.redisEnv());
    try {
      for (const phase of ['cold', 'warm'] as const) {
        const before = { search: tenant.count('searchUsers'), get: tenant.count('getUser') };
        const answer = await postGraphQL<UsersData>(gateway.url, partner, variant.query, { ids }, 120_000);
        const searches = tenant.count('searchUsers') - before.search;
        const gets = tenant.count('getUser') - before.get;
        const complete = completeness(answer.data);
        const errors = answer.errors?.length ?? 0;
        const whole = variant.wantsTokens ? complete.tokens === USERS : complete.identities === USERS;
        const answered = variant.wantsTokens
          ? `${complete.users}/${USERS} users, ${complete.states} states, ${complete.tokens} tokens`
          : `${complete.users}/${USERS} users, ${complete.identities} Google identities`;
        rows.push([
          variant.label,
          phase,
          String(searches),
          String(gets),
          String(searches + gets),
          phase === 'cold' ? `≤ ${allowedSearches} + ≤ ${variant.missed}` : '0',
          `${answered}${errors ? `, ${errors} errors` : ''}`,
          fixed(answer.ms, 0),
        ]);
        if (errors > 0)
          notes.push(`${variant.label}, ${phase}: first error: ${answer.errors?.[0]?.message ?? ''} (${String(answer.errors?.[0]?.extensions?.code)})`);
        if (phase === 'cold') {
          checks.push({
            target: `${variant.label}, cold: ≤ ${allowedSearches} searches + ≤ ${variant.missed} GETs (one per id whose answer the search missed)`,
            measured: `${searches} searches + ${gets} GETs`,
            met: searches <= allowedSearches && gets <= variant.missed && whole,
          });
        } else {
          checks.push({
            target: `${variant.label}, warm: 0 Management API calls`,
            measured: `${searches + gets} calls`,
            met: searches + gets === 0 && whole,
          });
        }
      }
    } finally {
      await gateway.stop();
      tenant.options.searchReturnsTokens = false;
    }
  }
  notes.push(
    'Gateway defaults: `AUTH0_MAX_REQUESTS_PER_SECOND=10`, `AUTH0_MAX_CONCURRENCY=4`, so each Management call beyond the first few costs about 100 ms of the cold latency.',
    'A check counts as met only when the answer is also complete (100 users, each with its access token, or its Google identity when no token field is asked).',
    `Search results without provider tokens miss the tokens of all ${USERS} users, so a query with token fields needs one GET per user; ` +
      `the ${allowedSearches} searches still find the identities, and only the ${unindexed} ids the search did not return cost a GET when no token is asked.`,
  );
  return {
    id: 'c',
    title: '`users(ids:)` with 100 ids: Management API calls, cold and warm',
    status: 'ran',
    description:
      `A partner token (\`read:users read:user_idp_tokens\`) asks \`${QUERY}\` (token fields) or \`${QUERY_NO_TOKENS}\` (none) for ${USERS} users with a Google identity, ${unindexed} of them ` +
      'missing from the search index (`tenant.unindexed`). Cold: the first request on a fresh gateway process with its own Redis key prefix; warm: the same ' +
      'request right after. Calls counted at the fake tenant (`searchUsers`, `getUser`). With the sandbox default (search results carry no provider ' +
      'tokens, as docs/upstream-apis.md advises to assume), with and without token fields, and with search results carrying them.',
    tables: [
      {
        head: ['variant', 'request', 'searches', 'GET /users/{id}', 'total', 'target', 'answer', 'latency ms'],
        rows,
      },
    ],
    checks,
    notes,
  };
}
