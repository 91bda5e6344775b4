import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { rawUser, postGraphQL, startHarness, type Harness, type RunningGateway } from './helpers/harness.js';

// The Management API queue is shared by every caller of an instance. A partner asking for 100 ids
// Auth0 does not know (2 searches + 100 GETs) must neither hold another caller's `me` for the whole
// batch (fairness), nor cost that much again when it asks again at once (the missing-id memo).
// Everything is read off the fake tenant: its call counters and its ordered request log.

const CONCURRENCY = 4;
/** Every GET /users/{id} takes this long, so the batch is long (100 GETs / 4 at a time ≈ 2.5 s) and the queue, not the rate cap, decides who goes next. */
const GET_DELAY_MS = 100;
const MISSING_TTL_SECONDS = 2;
const USERS = 'query ($ids: [ID!]!) { users(ids: $ids) { id } }';

let h: Harness;
let partner: string;
/** A second instance on the same Redis, started early so it is ready while the memo is fresh. */
let other: RunningGateway;

/** Users of the tenant's own database connection. */
const AUTH0_DATABASE = { provider: 'auth0', connection: 'Username-Password-Authentication', isSocial: false };

function managementCalls() {
  const t = h.sandbox.tenant;
  return { search: t.count('searchUsers'), get: t.count('getUser') };
}

function callsSince(before: { search: number; get: number }) {
  const now = managementCalls();
  return { search: now.search - before.search, get: now.get - before.get };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  h = await startHarness({
    env: {
      AUTH0_MAX_CONCURRENCY: String(CONCURRENCY),
      // High enough that the per-second cap never binds: the order is the queue's alone.
      AUTH0_MAX_REQUESTS_PER_SECOND: '100',
      USER_MISSING_TTL_SECONDS: String(MISSING_TTL_SECONDS),
    },
  });
  other = await h.startGateway();
  partner = await h.token('partner-app@clients', 'read:users');
  // Warm both instances up (Management token, JWKS), so the measured requests only wait for the queue.
  for (const url of [h.main.url, other.url]) {
    const warm = await postGraphQL(url, partner, `{ user(id: "${SEED_USERS.linus}") { id } }`);
    expect(warm.errors).toBeUndefined();
  }
});
afterAll(async () => h?.close());

describe('a partner batch of 100 unknown ids', () => {
  const unknown = Array.from({ length: 100 }, (_, i) => `auth0|fairness-unknown-${i}`);
  let firstBatch: { search: number; get: number };

  it('does not hold another caller’s me for the duration of the batch', async () => {
    const tenant = h.sandbox.tenant;
    const person = SEED_USERS.grace;
    const meUrl = `/api/v2/users/${encodeURIComponent(person)}`;
    const personToken = await h.token(person);
    tenant.injectFault('getUser', { delayMs: GET_DELAY_MS, times: 10_000 });
    try {
      const before = managementCalls();
      const batchStarted = Date.now();
      let batchEnded: number | undefined;
      const batch = h.query<{ users: unknown[] }>(partner, USERS, { ids: unknown }).then((answer) => {
        batchEnded = Date.now();
        return answer;
      });

      // `me` comes ~300 ms later, once the batch is past its searches and into its GETs.
      while (Date.now() - batchStarted < 300 || (callsSince(before).get < CONCURRENCY && Date.now() - batchStarted < 5000)) await sleep(10);
      // Most of the batch's GETs are still queued.
      expect(callsSince(before).search).toBe(2);
      expect(callsSince(before).get).toBeGreaterThan(0);
      expect(callsSince(before).get).toBeLessThan(50);

      const mark = tenant.requests.length;
      const meStarted = Date.now();
      const me = await h.query<{ me: { id: string } }>(personToken, '{ me { id } }');
      const meLatency = Date.now() - meStarted;
      const batchRunningAtMe = batchEnded === undefined;
      const batchGetsAtMe = callsSince(before).get;
      expect(me.errors).toBeUndefined();
      expect(me.data).toEqual({ me: { id: person } });

      const answer = await batch;
      const batchDuration = batchEnded! - batchStarted;
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.users).toEqual(unknown.map(() => null));
      firstBatch = callsSince(before);
      // The personal read was a GET; the batch: one search per 50 ids, one GET per id neither search found.
      expect(firstBatch).toEqual({ search: 2, get: unknown.length + 1 });

      // From the tenant's ordered log: the batch GETs that reached Auth0 after `me` was sent and
      // before its own GET. All of them were queued before `me`; with FIFO that is the rest of the
      // batch (~85), with turns it is at most the calls already running plus a couple.
      const log = tenant.requests.slice(mark);
      const meIndex = log.findIndex((r) => r.route === 'getUser' && r.url === meUrl);
      expect(meIndex).toBeGreaterThanOrEqual(0);
      const batchGetsBeforeMe = log.slice(0, meIndex).filter((r) => r.route === 'getUser').length;
      const batchGetsAfterMe = log.slice(meIndex + 1).filter((r) => r.route === 'getUser').length;
      console.log(
        `fairness: me answered in ${meLatency} ms while the batch ran ${batchDuration} ms; ` +
          `${batchGetsBeforeMe} batch GETs reached Auth0 between sending me and its GET, ${batchGetsAfterMe} after; ` +
          `cold batch cost ${firstBatch.search} searches + ${firstBatch.get - 1} GETs (+1 GET for me)`,
      );
      expect(batchGetsBeforeMe).toBeLessThanOrEqual(CONCURRENCY + 2);
      expect(batchGetsAfterMe).toBeGreaterThanOrEqual(50);
      // The batch was still running when `me` answered.
      expect(batchRunningAtMe).toBe(true);
      expect(batchGetsAtMe).toBeLessThan(unknown.length);
      expect(meLatency).toBeLessThan(batchDuration / 4);
    } finally {
      tenant.clearFaults();
    }
  });

  it('costs at most a couple of calls when asked again at once, on this instance and another', async () => {
    expect(firstBatch).toBeDefined();
    let before = managementCalls();
    const again = await h.query<{ users: unknown[] }>(partner, USERS, { ids: unknown });
    expect(again.errors).toBeUndefined();
    expect(again.data?.users).toEqual(unknown.map(() => null));
    const repeated = callsSince(before);

    before = managementCalls();
    const elsewhere = await postGraphQL<{ users: unknown[] }>(other.url, partner, USERS, { ids: unknown });
    expect(elsewhere.errors).toBeUndefined();
    expect(elsewhere.data?.users).toEqual(unknown.map(() => null));
    const repeatedElsewhere = callsSince(before);

    console.log(
      `memo: repeated batch cost ${repeated.search} searches + ${repeated.get} GETs here, ` +
        `${repeatedElsewhere.search} + ${repeatedElsewhere.get} on a second instance`,
    );
    expect(repeated.search + repeated.get).toBeLessThanOrEqual(2);
    expect(repeatedElsewhere.search + repeatedElsewhere.get).toBeLessThanOrEqual(2);
  });
});

describe('an id remembered as missing', () => {
  const [early, late, never] = ['auth0|memo-early', 'auth0|memo-late', 'auth0|memo-never'];

  it('is found at once by a fresh read, and by every read after the memo expires', async () => {
    const first = await h.query<{ users: unknown[] }>(partner, USERS, { ids: [early, late, never] });
    expect(first.data?.users).toEqual([null, null, null]);

    // Both are created in Auth0 now; the memo still answers for them, without calling Auth0.
    h.sandbox.tenant.addUser(rawUser(early, AUTH0_DATABASE));
    h.sandbox.tenant.addUser(rawUser(late, AUTH0_DATABASE));
    let before = managementCalls();
    const memoised = await h.query<{ users: unknown[] }>(partner, USERS, { ids: [early, late, never] });
    expect(memoised.data?.users).toEqual([null, null, null]);
    expect(callsSince(before)).toEqual({ search: 0, get: 0 });

    // A fresh read (GET /users/{id}, what token lookups use) ignores the memo and replaces it.
    before = managementCalls();
    const fresh = await h.main.gateway.services.users.loadFresh(early);
    expect(fresh?.id).toBe(early);
    expect(callsSince(before)).toEqual({ search: 0, get: 1 });
    before = managementCalls();
    const replaced = await h.query<{ users: ({ id: string } | null)[] }>(partner, USERS, { ids: [early, late] });
    expect(replaced.data?.users).toEqual([{ id: early }, null]);
    expect(callsSince(before)).toEqual({ search: 0, get: 0 });

    // After the memo's TTL, the batched path asks Auth0 again and finds the other one too.
    await sleep(MISSING_TTL_SECONDS * 1000 + 200);
    before = managementCalls();
    const expired = await h.query<{ users: ({ id: string } | null)[] }>(partner, USERS, { ids: [early, late, never] });
    expect(expired.data?.users).toEqual([{ id: early }, { id: late }, null]);
    expect(callsSince(before).search + callsSince(before).get).toBeGreaterThan(0);
  });
});
