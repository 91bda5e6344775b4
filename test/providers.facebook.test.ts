import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appSecretProof } from '../src/providers/facebook/api.js';
import { facebookRateLimitBody } from '../sandbox/facebook.js';
import { SEED_ACCOUNTS, SEED_USERS } from '../sandbox/index.js';
import { errorCodes, postGraphQL, startHarness, type GraphQLAnswer, type Harness } from './helpers/harness.js';

// The Facebook Graph API as fields of FacebookIdentity, against the simulated Graph API
// (sandbox/facebook.ts, docs/upstream-apis.md#facebook). Every count below is read from the fake.
// The test that kills Ada's Facebook token runs last, since the gateway then remembers the token as
// dead.

interface FriendsPage {
  edges: { cursor: string; node: { id: string; name: string | null } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}
type FacebookData = { me: { facebook: Record<string, unknown> | null } };

const FRIENDS = `query ($first: Int, $after: String) {
  me { facebook { friends(first: $first, after: $after) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } } }
}`;

let h: Harness;
let ada: string;

beforeAll(async () => {
  h = await startHarness();
  ada = await h.token(SEED_USERS.ada);
});
afterAll(async () => h?.close());

function seededFriends(account: string): { id: string; name: string }[] {
  return h.sandbox.facebook.account(account)?.friends ?? [];
}

async function friendsPage(after?: string | null, first = 7): Promise<GraphQLAnswer<{ me: { facebook: { friends: FriendsPage | null } } }>> {
  return h.query(ada, FRIENDS, { first, after });
}

describe('profile', () => {
  it("reads Ada's profile from GET /me with the picture URL", async () => {
    const answer = await h.query<FacebookData>(ada, '{ me { facebook { profile { id name email pictureUrl } } } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.facebook?.profile).toEqual({
      id: SEED_ACCOUNTS.ada.facebook,
      name: 'Ada Lovelace',
      email: 'ada@example.com',
      pictureUrl: h.sandbox.facebook.account(SEED_ACCOUNTS.ada.facebook)?.pictureUrl,
    });
  });

  it("reads Margaret's profile (Facebook-only, no email) as null email and Facebook's generated picture", async () => {
    const margaret = await h.token(SEED_USERS.margaret);
    const answer = await h.query<FacebookData>(margaret, '{ me { facebook { profile { id name email pictureUrl } } } }');
    expect(answer.errors).toBeUndefined();
    const profile = answer.data?.me.facebook?.profile as Record<string, string | null>;
    expect(profile).toMatchObject({ id: SEED_ACCOUNTS.margaret.facebook, name: 'Margaret Hamilton', email: null });
    expect(profile.pictureUrl).toMatch(new RegExp(`^https://platform-lookaside\\.fbsbx\\.com/platform/profilepic/\\?asid=${SEED_ACCOUNTS.margaret.facebook}&`));
  });

  it('sends one GET /me for the same profile asked for twice in one request', async () => {
    const before = h.sandbox.facebook.count('me');
    const answer = await h.query<{ me: { facebook: { a: { id: string }; b: { name: string } } }; again: { facebook: { profile: { email: string } } } }>(
      ada,
      '{ me { facebook { a: profile { id } b: profile { name } } } again: me { facebook { profile { email } } } }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.facebook).toEqual({ a: { id: SEED_ACCOUNTS.ada.facebook }, b: { name: 'Ada Lovelace' } });
    expect(answer.data?.again.facebook.profile.email).toBe('ada@example.com');
    expect(h.sandbox.facebook.count('me') - before).toBe(1);
  });
});

describe('friends', () => {
  it('pages through every friend with first: 7, without duplicates, ending with hasNextPage false', async () => {
    const expected = seededFriends(SEED_ACCOUNTS.ada.facebook);
    expect(expected.length).toBeGreaterThan(14);
    const ids: string[] = [];
    let after: string | null = null;
    let last: FriendsPage | undefined;
    for (let page = 0; page < 10; page++) {
      const answer = await friendsPage(after);
      expect(answer.errors).toBeUndefined();
      last = answer.data?.me.facebook.friends ?? undefined;
      ids.push(...(last?.edges.map((edge) => edge.node.id) ?? []));
      if (!last?.pageInfo.hasNextPage) break;
      after = last.pageInfo.endCursor;
    }
    expect(last?.pageInfo.hasNextPage).toBe(false);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expected.map((friend) => friend.id));
  });

  it('asks Facebook for at most `first` friends and continues with its own after cursor', async () => {
    const start = h.sandbox.facebook.requests.length;
    const first = await friendsPage(null, 7);
    await friendsPage(first.data?.me.facebook.friends?.pageInfo.endCursor, 7);
    const urls = h.sandbox.facebook.requests
      .slice(start)
      .filter((r) => r.route === 'friends')
      .map((r) => new URL(r.url, 'http://fake'));
    expect(urls.map((url) => url.searchParams.get('limit'))).toEqual(['7', '7']);
    expect(urls[0]?.searchParams.get('after')).toBeNull();
    expect(urls[1]?.searchParams.get('after')).toBe(Buffer.from(seededFriends(SEED_ACCOUNTS.ada.facebook)[6]!.id).toString('base64'));
  });

  it('resumes after an edge in the middle of a page with the next friend', async () => {
    const expected = seededFriends(SEED_ACCOUNTS.ada.facebook);
    const page = await friendsPage(null, 7);
    const third = page.data?.me.facebook.friends?.edges[2];
    expect(third?.node.id).toBe(expected[2]?.id);
    const resumed = await friendsPage(third?.cursor, 2);
    expect(resumed.errors).toBeUndefined();
    expect(resumed.data?.me.facebook.friends?.edges.map((edge) => edge.node)).toEqual(expected.slice(3, 5));
    expect(resumed.data?.me.facebook.friends?.pageInfo.hasNextPage).toBe(true);
  });

  it('caps first at 100 and uses the default of 25', async () => {
    const start = h.sandbox.facebook.requests.length;
    const answer = await h.query<{ me: { facebook: { many: FriendsPage; some: FriendsPage } } }>(
      ada,
      '{ me { facebook { many: friends(first: 500) { edges { node { id } } pageInfo { hasNextPage } } some: friends { edges { node { id } } } } } }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.facebook.many.edges).toHaveLength(seededFriends(SEED_ACCOUNTS.ada.facebook).length);
    expect(answer.data?.me.facebook.many.pageInfo.hasNextPage).toBe(false);
    expect(answer.data?.me.facebook.some.edges).toHaveLength(25);
    const limits = h.sandbox.facebook.requests.slice(start).map((r) => new URL(r.url, 'http://fake').searchParams.get('limit'));
    expect(limits.sort()).toEqual(['100', '25']);
  });

  it("refuses a cursor of another field (Google's calendarEvents) without calling Facebook", async () => {
    const google = await h.query<{ me: { google: { calendarEvents: FriendsPage } } }>(
      ada,
      '{ me { google { calendarEvents(first: 2) { pageInfo { endCursor } } } } }',
    );
    const foreign = google.data?.me.google.calendarEvents.pageInfo.endCursor;
    expect(foreign).toEqual(expect.any(String));
    const before = h.sandbox.facebook.count('friends');
    const answer = await friendsPage(foreign, 5);
    expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
    expect(answer.errors?.[0]?.path).toEqual(['me', 'facebook', 'friends']);
    expect(answer.data?.me.facebook.friends).toBeNull();
    expect(h.sandbox.facebook.count('friends')).toBe(before);
  });

  it("reads the total friend count from Facebook's summary", async () => {
    const answer = await h.query<FacebookData>(ada, '{ me { facebook { friendCount } } }');
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.facebook?.friendCount).toBe(52);
  });
});

describe('appsecret_proof', () => {
  it('signs every call with the proof of the Auth0 connection secret, and never puts the token in a URL', async () => {
    const token = h.sandbox.users!.tokens.ada.facebook.access_token;
    h.sandbox.facebook.options.requireAppSecretProof = true;
    try {
      const start = h.sandbox.facebook.requests.length;
      const answer = await h.query<FacebookData>(ada, '{ me { facebook { profile { id } friends(first: 1) { edges { node { id } } } } } }');
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.me.facebook?.profile).toEqual({ id: SEED_ACCOUNTS.ada.facebook });
      const urls = h.sandbox.facebook.requests.slice(start).map((r) => new URL(r.url, 'http://fake'));
      expect(urls).toHaveLength(2);
      for (const url of urls) expect(url.searchParams.get('appsecret_proof')).toBe(h.sandbox.facebook.appSecretProof(token));
    } finally {
      h.sandbox.facebook.options.requireAppSecretProof = false;
    }
    expect(appSecretProof(h.sandbox.facebook.appSecret, token)).toBe(h.sandbox.facebook.appSecretProof(token));
  });

  it('uses FACEBOOK_APP_SECRET when set, without reading the Auth0 connection', async () => {
    const gateway = await h.startGateway({ FACEBOOK_APP_SECRET: h.sandbox.facebook.appSecret });
    const connectionReads = h.sandbox.tenant.count('listConnections');
    h.sandbox.facebook.options.requireAppSecretProof = true;
    try {
      const answer = await postGraphQL<FacebookData>(gateway.url, ada, '{ me { facebook { profile { id } } } }');
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.me.facebook?.profile).toEqual({ id: SEED_ACCOUNTS.ada.facebook });
    } finally {
      h.sandbox.facebook.options.requireAppSecretProof = false;
    }
    expect(h.sandbox.tenant.count('listConnections')).toBe(connectionReads);
  });

  it("reports Facebook's code 100 for a wrong app secret as CONFIGURATION_ERROR naming no secret or token", async () => {
    const gateway = await h.startGateway({ FACEBOOK_APP_SECRET: 'not-the-app-secret' });
    const answer = await postGraphQL<FacebookData>(gateway.url, ada, '{ me { facebook { profile { id } } } }');
    expect(errorCodes(answer)).toEqual(['CONFIGURATION_ERROR']);
    expect(answer.errors?.[0]?.extensions?.provider).toBe('facebook');
    expect(answer.errors?.[0]?.message).toContain('appsecret_proof');
    expect(answer.data?.me.facebook?.profile).toBeNull();
    expect(JSON.stringify(answer)).not.toContain(h.sandbox.users!.tokens.ada.facebook.access_token);
    expect(JSON.stringify(answer)).not.toContain('not-the-app-secret');
  });
});

describe('failures', () => {
  it('answers a throttled Facebook (code 17) with PROVIDER_RATE_LIMITED at once', async () => {
    h.sandbox.facebook.injectFault('me', { status: 400, body: facebookRateLimitBody(17) });
    const started = Date.now();
    const answer = await h.query<FacebookData>(ada, '{ me { facebook { connection profile { id } } } }');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(errorCodes(answer)).toEqual(['PROVIDER_RATE_LIMITED']);
    expect(answer.errors?.[0]?.extensions).toMatchObject({ provider: 'facebook', retryAfter: 60 });
    expect(answer.data?.me.facebook).toEqual({ connection: 'facebook', profile: null });
  });

  it('takes retryAfter from Retry-After, else from X-Business-Use-Case-Usage minutes', async () => {
    h.sandbox.facebook.injectFault('me', { status: 400, body: facebookRateLimitBody(613), headers: { 'Retry-After': '7' } });
    const withHeader = await h.query(ada, '{ me { facebook { profile { id } } } }');
    expect(withHeader.errors?.[0]?.extensions).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', retryAfter: 7 });
    const usage = { '1010': [{ type: 'pages', call_count: 100, total_cputime: 3, total_time: 85, estimated_time_to_regain_access: 4 }] };
    const buc = {
      error: { message: '(#80001) There have been too many calls to this Page account.', type: 'OAuthException', code: 80001, fbtrace_id: 'Atrace' },
    };
    h.sandbox.facebook.injectFault('me', { status: 400, body: buc, headers: { 'X-Business-Use-Case-Usage': JSON.stringify(usage) } });
    const withUsage = await h.query(ada, '{ me { facebook { profile { id } } } }');
    expect(withUsage.errors?.[0]?.extensions).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', retryAfter: 240 });
  });

  it('retries a failing friends GET and then gives UPSTREAM_UNAVAILABLE on that field only', async () => {
    h.sandbox.facebook.injectFault('friends', {
      status: 500,
      body: { error: { message: 'An unknown error has occurred.', type: 'OAuthException', code: 1 } },
      times: 3,
    });
    const before = h.sandbox.facebook.count('friends');
    const answer = await h.query<FacebookData>(ada, '{ me { facebook { profile { id } friends(first: 3) { edges { node { id } } } } } }');
    expect(errorCodes(answer)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(answer.errors?.[0]).toMatchObject({ path: ['me', 'facebook', 'friends'], extensions: { provider: 'facebook' } });
    expect(answer.data?.me.facebook).toEqual({ profile: { id: SEED_ACCOUNTS.ada.facebook }, friends: null });
    expect(h.sandbox.facebook.count('friends') - before).toBe(3);
  });

  it('reports upstream stats with the X-App-Usage percentage when asked', async () => {
    const answer = await postGraphQL<FacebookData>(h.main.url, ada, '{ me { facebook { profile { id } } } }', undefined, { 'x-upstream-stats': '1' });
    expect(answer.errors).toBeUndefined();
    const stats = (answer.extensions?.upstream as Record<string, { requests: number; rateLimit: { usedPercent?: number } | null }>).facebook;
    expect(stats?.requests).toBeGreaterThanOrEqual(1);
    expect(stats?.rateLimit?.usedPercent).toEqual(expect.any(Number));
  });

  it('never sent a provider token in a URL', () => {
    const tokens = [h.sandbox.users!.tokens.ada.facebook.access_token, h.sandbox.users!.tokens.margaret.facebook.access_token];
    expect(h.sandbox.facebook.requests.length).toBeGreaterThan(10);
    for (const request of h.sandbox.facebook.requests) {
      for (const token of tokens) expect(request.url).not.toContain(token);
      expect(new URL(request.url, 'http://fake').searchParams.has('access_token')).toBe(false);
    }
  });

  // Last: Ada's Facebook token stays dead for the rest of this harness.
  it('gives REAUTHENTICATION_REQUIRED for a token Facebook kills (code 190), while the rest of the query arrives', async () => {
    h.sandbox.facebook.invalidateTokens(SEED_ACCOUNTS.ada.facebook, 460);
    const answer = await h.query<{ me: { id: string; google: { profile: { sub: string } }; facebook: { profile: unknown } } }>(
      ada,
      '{ me { id google { profile { sub } } facebook { profile { id } } } }',
    );
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(answer.errors?.[0]).toMatchObject({ path: ['me', 'facebook', 'profile'], extensions: { provider: 'facebook', connection: 'facebook' } });
    expect(answer.data?.me).toEqual({ id: SEED_USERS.ada, google: { profile: { sub: SEED_ACCOUNTS.ada.google } }, facebook: { profile: null } });
    expect(JSON.stringify(answer)).not.toContain(h.sandbox.users!.tokens.ada.facebook.access_token);
  });

  it('gives REAUTHENTICATION_REQUIRED for an expired Facebook token (code 190, subcode 463): there is no refresh grant', async () => {
    h.sandbox.facebook.expireAccessTokens(SEED_ACCOUNTS.margaret.facebook);
    const margaret = await h.token(SEED_USERS.margaret);
    const answer = await h.query<FacebookData>(margaret, '{ me { facebook { connection profile { id } } } }');
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(answer.errors?.[0]?.extensions).toMatchObject({ provider: 'facebook', connection: 'facebook' });
    expect(answer.data?.me.facebook).toEqual({ connection: 'facebook', profile: null });
  });
});
