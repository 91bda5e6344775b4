import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { postGraphQL, startHarness, type Harness } from './helpers/harness.js';

// No token is ever in Redis in clear text: every token record there is sealed
// (AES-256-GCM); TOKEN_ENCRYPTION_KEY may list several keys: the first seals, all open.

const ALL_TOKENS = '{ me { identities { provider accessToken } } }';

let h: Harness;
let redis: Redis;
const handedOut: string[] = [];

function collectTokens(value: unknown, into: string[]): void {
  if (typeof value === 'string') into.push(value);
  else if (value && typeof value === 'object') for (const inner of Object.values(value)) collectTokens(inner, into);
}

async function snapshot(): Promise<Map<string, string>> {
  const keys = await redis.keys(`${h.env.REDIS_KEY_PREFIX}*`);
  const values = await Promise.all(keys.map((key) => redis.get(key)));
  return new Map(keys.map((key, index) => [key, values[index] ?? '']));
}

beforeAll(async () => {
  h = await startHarness();
  redis = new Redis(inject('redisUrl'));
  for (const user of [SEED_USERS.ada, SEED_USERS.grace, SEED_USERS.alan]) {
    const answer = await h.query<{ me: { identities: { accessToken: string | null }[] } }>(await h.token(user, 'read:user_idp_tokens'), ALL_TOKENS);
    expect(answer.errors).toBeUndefined();
    for (const identity of answer.data!.me.identities) if (identity.accessToken) handedOut.push(identity.accessToken);
  }
});
afterAll(async () => {
  redis?.disconnect();
  await h?.close();
});

describe('token records in Redis', () => {
  it('holds every record sealed, with no provider token, refresh token or user id in clear text', async () => {
    const secrets: string[] = [...handedOut];
    collectTokens(h.sandbox.users!.tokens, secrets);
    const entries = await snapshot();
    // Spend markers of rotating refresh tokens (Grace's Microsoft renewal) hold a time under a fingerprint, not a record.
    const records = [...entries].filter(([key]) => /token:\{/.test(key) && !key.includes('lock:') && !key.includes('spent:'));
    // Ada (4 identities with tokens), Grace (github, google, waad), Alan (bitbucket).
    expect(records.length).toBeGreaterThanOrEqual(8);
    for (const [key, value] of records) {
      expect(value.startsWith('v1.')).toBe(true);
      expect(key).not.toMatch(/google|github|bitbucket|auth0\|/);
    }
    const everything = [...entries].map(([key, value]) => `${key}=${value}`).join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(h.sandbox.google.count('token')).toBe(1);
  });

  it('is read by an instance that lists a new key first and the old one second, and re-sealed with the new key', async () => {
    const oldKey = h.env.TOKEN_ENCRYPTION_KEY!;
    const newKey = randomBytes(32).toString('base64');
    const rotated = await h.startGateway({ TOKEN_ENCRYPTION_KEY: `${newKey},${oldKey}` });
    const reads = h.sandbox.tenant.count('getUser');
    const renewals = h.sandbox.google.count('token');
    const caller = await h.token(SEED_USERS.grace, 'read:user_idp_tokens');
    const answer = await postGraphQL<{ me: { google: { accessToken: string } } }>(rotated.url, caller, '{ me { google { accessToken } } }');
    // The renewed token from before, opened with the old key: no Management read, no refresh.
    expect(handedOut).toContain(answer.data?.me.google.accessToken);
    expect(h.sandbox.google.count('token')).toBe(renewals);
    expect(h.sandbox.tenant.count('getUser') - reads).toBeLessThanOrEqual(1);

    // A record the rotated instance writes (Margaret's, new) is sealed with the new key's id,
    // and an instance holding only the new key opens it without asking Auth0.
    const before = await snapshot();
    const oldKeyId = [...before.values()].find((value) => value.startsWith('v1.'))!.split('.')[1];
    const margaret = await h.token(SEED_USERS.margaret, 'read:user_idp_tokens');
    const first = await postGraphQL<{ me: { facebook: { accessToken: string } } }>(rotated.url, margaret, '{ me { facebook { accessToken } } }');
    const written = [...(await snapshot())].filter(([key]) => !before.has(key) && key.includes('token:{'));
    expect(written).toHaveLength(1);
    const newKeyId = written[0]![1].split('.')[1];
    expect(newKeyId).not.toBe(oldKeyId);

    const onlyNew = await h.startGateway({ TOKEN_ENCRYPTION_KEY: newKey });
    const readsBefore = h.sandbox.tenant.count('getUser');
    const second = await postGraphQL<{ me: { facebook: { accessToken: string } } }>(onlyNew.url, margaret, '{ me { facebook { accessToken } } }');
    expect(second.data?.me.facebook.accessToken).toBe(first.data?.me.facebook.accessToken);
    // Only the user record may be read (its cache is shared); the token came from the sealed record.
    expect(h.sandbox.tenant.count('getUser') - readsBefore).toBe(0);
  });

  it('ignores records sealed under a key it does not hold, and reads Auth0 again instead', async () => {
    const stranger = await h.startGateway({ TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64') });
    const reads = h.sandbox.tenant.count('getUser');
    const answer = await postGraphQL<{ me: { identities: { accessToken: string | null }[] } }>(
      stranger.url,
      await h.token(SEED_USERS.alan, 'read:user_idp_tokens'),
      ALL_TOKENS,
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.identities[0]?.accessToken).toEqual(expect.any(String));
    expect(h.sandbox.tenant.count('getUser')).toBeGreaterThan(reads);
  });
});
