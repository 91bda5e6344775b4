import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { rawUser, startHarness, type Harness } from './helpers/harness.js';

// The gateway hands out a provider token only while it has some life left: a token that expires
// seconds after we hand it out fails the caller's own call to the provider (or ours, a moment
// later). So a token near its end is renewed first: 60 s is the margin for an expiry we know
// exactly (from our own refresh), 5 minutes for Auth0's estimate (its `expires_in` counted from the
// user's last login, which may be later than when the provider issued the token).
//
// Each user below has a Google token of a chosen remaining life, at the fake Google and in the fake
// tenant alike. The fake counts refresh grants and records every token its APIs were shown.

const QUERY = '{ me { google { accessToken driveFiles(first: 1) { edges { node { id } } } } } }';
type Answer = { me: { google: { accessToken: string; driveFiles: { edges: unknown[] } } } };

let h: Harness;
let nextSub = 990_000_000_000_000_000n;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

/**
 * A Google user whose access token has `secondsLeft` to live (negative: expired that long ago). In
 * Auth0 it is stored with `expires_in: lifetime` by a login `lifetime - secondsLeft` seconds ago, so
 * the gateway's estimate of its expiry is right to the second.
 */
function addGoogleUser(secondsLeft: number, lifetime = secondsLeft): { userId: string; accessToken: string } {
  const sub = String((nextSub += 1n));
  h.sandbox.google.addAccount({ sub, email: `${sub}@example.com`, emailVerified: true, name: `User ${sub}`, files: [] });
  const issued = h.sandbox.google.issueTokens(sub, { expiresIn: secondsLeft });
  const loggedIn = new Date(Date.now() - (lifetime - secondsLeft) * 1000).toISOString();
  const user = rawUser(`google-oauth2|${sub}`, { access_token: issued.access_token, refresh_token: issued.refresh_token, expires_in: lifetime });
  h.sandbox.tenant.addUser({ ...user, last_login: loggedIn, updated_at: loggedIn });
  return { userId: user.user_id, accessToken: issued.access_token };
}

/** One request as the user: the token the gateway handed out, and the tokens Google's APIs saw meanwhile. */
async function useGoogle(userId: string): Promise<{ handedOut: string; presented: string[]; refreshes: number }> {
  const caller = await h.token(userId, 'read:user_idp_tokens');
  const presentedBefore = h.sandbox.google.presentedAccessTokens.length;
  const refreshesBefore = h.sandbox.google.count('token');
  const answer = await h.query<Answer>(caller, QUERY);
  expect(answer.errors).toBeUndefined();
  expect(answer.data?.me.google.driveFiles.edges).toEqual([]);
  return {
    handedOut: answer.data!.me.google.accessToken,
    presented: h.sandbox.google.presentedAccessTokens.slice(presentedBefore),
    refreshes: h.sandbox.google.count('token') - refreshesBefore,
  };
}

describe('a token Auth0 holds (estimated expiry, 5-minute margin)', () => {
  it('with 30 s of life left, is renewed before its first use: one refresh, and Google sees only the renewed token', async () => {
    const { userId, accessToken: nearlyExpired } = addGoogleUser(30);
    const use = await useGoogle(userId);
    expect(use.refreshes).toBe(1);
    expect(use.handedOut).not.toBe(nearlyExpired);
    expect(use.presented.length).toBeGreaterThan(0);
    expect(use.presented).not.toContain(nearlyExpired);
    expect(new Set(use.presented)).toEqual(new Set([use.handedOut]));
  });

  it('with 4 minutes left (inside the estimate’s margin), is renewed too', async () => {
    const { userId, accessToken: nearlyExpired } = addGoogleUser(4 * 60);
    const use = await useGoogle(userId);
    expect(use.refreshes).toBe(1);
    expect(use.handedOut).not.toBe(nearlyExpired);
    expect(use.presented).not.toContain(nearlyExpired);
  });

  it('with 10 minutes left, is used as it is: no refresh', async () => {
    const { userId, accessToken } = addGoogleUser(10 * 60);
    const use = await useGoogle(userId);
    expect(use.refreshes).toBe(0);
    expect(use.handedOut).toBe(accessToken);
    expect(new Set(use.presented)).toEqual(new Set([accessToken]));
  });
});

describe('a token from our own refresh (exact expiry, 60 s margin)', () => {
  // Only Date is faked: the gateway and the fakes run in this process and both see the clock move
  // towards the renewed token's end, while timers, sockets and Redis stay real.
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is used while 2 minutes are left, and renewed once only 30 s are left: Google never sees it that close to its end', async () => {
    // Logged in two hours ago with a 3599 s token: expired, so the first use renews it whatever the margin.
    const { userId } = addGoogleUser(3599 - 7200, 3599);
    const first = await useGoogle(userId);
    expect(first.refreshes).toBe(1);
    const renewed = first.handedOut;
    // Google's renewed tokens live 3599 s from the refresh.
    const renewedAt = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now: renewedAt });

    vi.setSystemTime(renewedAt + (3599 - 120) * 1000);
    const twoMinutesLeft = await useGoogle(userId);
    expect(twoMinutesLeft.refreshes).toBe(0);
    expect(twoMinutesLeft.handedOut).toBe(renewed);

    vi.setSystemTime(renewedAt + (3599 - 30) * 1000);
    const thirtySecondsLeft = await useGoogle(userId);
    expect(thirtySecondsLeft.refreshes).toBe(1);
    expect(thirtySecondsLeft.handedOut).not.toBe(renewed);
    expect(thirtySecondsLeft.presented.length).toBeGreaterThan(0);
    expect(thirtySecondsLeft.presented).not.toContain(renewed);
    expect(new Set(thirtySecondsLeft.presented)).toEqual(new Set([thirtySecondsLeft.handedOut]));
  });
});

describe('secrets', () => {
  it('the gateway logged none of the Google tokens it adopted, renewed or handed out', () => {
    const logs = h.main.logs.join('\n');
    const tokens = h.sandbox.google.issuedTokens();
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) expect(logs).not.toContain(token);
  });
});
