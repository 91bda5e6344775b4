import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { postGraphQL, startHarness, type Harness, type RunningGateway } from './helpers/harness.js';

// The client-credentials token is cached until shortly before expiry with one
// request in flight, and shared (sealed) through Redis so N instances fetch it once.

describe('Management API token across instances', () => {
  let h: Harness;
  let gateways: RunningGateway[];
  let redis: Redis;

  beforeAll(async () => {
    h = await startHarness({ env: { USER_CACHE_TTL_SECONDS: '0' } });
    gateways = [h.main, await h.startGateway(), await h.startGateway()];
    redis = new Redis(inject('redisUrl'));
  });
  afterAll(async () => {
    redis?.disconnect();
    await h?.close();
  });

  it('is fetched once by three instances answering 60 concurrent requests', async () => {
    const partner = await h.token('partner-app@clients', 'read:users');
    const ids = Object.values(SEED_USERS);
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => postGraphQL(gateways[i % 3]!.url, partner, `{ user(id: "${ids[i % ids.length]}") { id } }`)),
    );
    for (const answer of answers) expect(answer.errors).toBeUndefined();
    expect(h.sandbox.tenant.count('token')).toBe(1);
  });

  it('is stored sealed: Redis never holds the token in clear text', async () => {
    const prefix = h.env.REDIS_KEY_PREFIX!;
    const keys = await redis.keys(`${prefix}*`);
    const tokenKey = keys.find((key) => key.endsWith('auth0:management-token'));
    expect(tokenKey).toBeDefined();
    const sealed = (await redis.get(tokenKey!))!;
    expect(sealed.startsWith('v1.')).toBe(true);
    for (const issued of h.sandbox.tenant.issuedManagementTokens) {
      expect(sealed).not.toContain(issued);
      // Not even a recognisable part of the JWT (its payload segment).
      expect(sealed).not.toContain(issued.split('.')[1]!);
    }
    const ttl = await redis.pttl(tokenKey!);
    // Sandbox tokens live 24 h; the shared copy expires a minute earlier.
    expect(ttl).toBeGreaterThan(86_000_000);
    expect(ttl).toBeLessThanOrEqual(86_340_000);
  });

  it('opens with any configured key, so keys rotate without a new token', async () => {
    const oldKey = h.env.TOKEN_ENCRYPTION_KEY!;
    const newKey = Buffer.alloc(32, 9).toString('base64');
    const rotated = await h.startGateway({ TOKEN_ENCRYPTION_KEY: `${newKey},${oldKey}` });
    const before = h.sandbox.tenant.count('token');
    const partner = await h.token('partner-app@clients', 'read:users');
    const answer = await postGraphQL(rotated.url, partner, `{ user(id: "${SEED_USERS.alan}") { id } }`);
    expect(answer.data).toEqual({ user: { id: SEED_USERS.alan } });
    expect(h.sandbox.tenant.count('token')).toBe(before);
  });

  it('is not opened by an instance with another encryption key (it fetches its own instead)', async () => {
    const stranger = await h.startGateway({ TOKEN_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') });
    const before = h.sandbox.tenant.count('token');
    const partner = await h.token('partner-app@clients', 'read:users');
    const answer = await postGraphQL(stranger.url, partner, `{ user(id: "${SEED_USERS.linus}") { id } }`);
    expect(answer.data).toEqual({ user: { id: SEED_USERS.linus } });
    expect(h.sandbox.tenant.count('token')).toBe(before + 1);
  });
});

describe('Management API token in memory', () => {
  it('is fetched once for many concurrent requests of one instance', async () => {
    const h = await startHarness({ redis: false, env: { USER_CACHE_TTL_SECONDS: '0' } });
    try {
      const partner = await h.token('partner-app@clients', 'read:users');
      const answers = await Promise.all(Array.from({ length: 20 }, () => h.query(partner, `{ user(id: "${SEED_USERS.ada}") { id } }`)));
      for (const answer of answers) expect(answer.data).toEqual({ user: { id: SEED_USERS.ada } });
      expect(h.sandbox.tenant.count('token')).toBe(1);
    } finally {
      await h.close();
    }
  });
});
