import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { startHarness, type Harness } from './helpers/harness.js';

// Bounded retention in Redis: a token record lives TOKEN_RECORD_IDLE_TTL_SECONDS past its last use
// at most. Use renews that lifetime, but not on every request: a record written or renewed less
// than a tenth of the lifetime ago (a day, by default) is left alone, so the warm path sends Redis
// nothing beyond its read. Here the lifetime is 60 s, so the renewal interval is 6 s.

const IDLE_TTL_MS = 60_000;
/** How long a read token state answers again without Redis (TokenStore's hot copies). */
const HOT_COPY_MS = 5_000;
const QUERY = '{ me { google { profile { email } } } }';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let h: Harness;
let redis: Redis;
let monitor: Redis | undefined;
let prefix: string;
beforeAll(async () => {
  h = await startHarness({ env: { TOKEN_RECORD_IDLE_TTL_SECONDS: String(IDLE_TTL_MS / 1000) } });
  prefix = h.env.REDIS_KEY_PREFIX!;
  redis = new Redis(inject('redisUrl'));
});
afterAll(async () => {
  monitor?.disconnect();
  redis?.disconnect();
  await h?.close();
});

it('gives a record the idle lifetime, renews it on use at most once per interval, and sends nothing more on warm requests', async () => {
  const ada = await h.token(SEED_USERS.ada);
  const ask = async () => {
    const answer = await h.query(ada, QUERY);
    expect(answer.errors).toBeUndefined();
  };
  await ask();
  const writtenAt = Date.now();
  // Ada's Google record (Auth0's answer may have brought her other identities' records along).
  const keys = (await redis.keys(`${prefix}token:*`)).sort();
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) {
    const ttl = await redis.pttl(key);
    expect(ttl).toBeLessThanOrEqual(IDLE_TTL_MS);
    expect(ttl).toBeGreaterThan(IDLE_TTL_MS - 5_000);
  }

  // Every command the gateway sends about a token record from now on (not this test's PTTLs, nor
  // the commands a script runs inside Redis).
  const commands: string[][] = [];
  monitor = await redis.monitor();
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua' && args[0]?.toLowerCase() !== 'pttl' && args.some((arg) => arg.startsWith(`${prefix}token:`))) commands.push(args);
  });
  const count = (name: string) => commands.filter((args) => args[0]!.toLowerCase() === name).length;

  // Warm: the state read a moment ago answers; Redis hears nothing about the record.
  for (let i = 0; i < 5; i += 1) await ask();
  await sleep(200);
  expect(commands).toEqual([]);

  // Past the hot copy, within the interval: one read, no renewal; the lifetime runs down.
  await sleep(writtenAt + HOT_COPY_MS + 300 - Date.now());
  for (let i = 0; i < 5; i += 1) await ask();
  await sleep(200);
  expect(count('mget')).toBe(1);
  expect(count('eval')).toBe(0);
  const googleKey = commands[0]![1]!;
  const before = await redis.pttl(googleKey);
  expect(before).toBeLessThan(IDLE_TTL_MS - HOT_COPY_MS);

  // Past the interval (and the hot copy of that read): one read and one renewal to the full lifetime.
  await sleep(writtenAt + 2 * HOT_COPY_MS + 700 - Date.now());
  for (let i = 0; i < 5; i += 1) await ask();
  await sleep(200);
  expect(count('mget')).toBe(2);
  expect(count('eval')).toBe(1);
  expect(commands.find((args) => args[0]!.toLowerCase() === 'eval')?.includes(googleKey)).toBe(true);
  const after = await redis.pttl(googleKey);
  expect(after).toBeGreaterThan(IDLE_TTL_MS - 1_000);
  expect(after).toBeLessThanOrEqual(IDLE_TTL_MS);
  // 16 requests: two reads and one renewal in all.
  expect(commands.map((args) => args[0]!.toLowerCase())).toEqual(['mget', 'mget', 'eval']);
  console.log(
    'token record retention:',
    JSON.stringify({ idleTtlMs: IDLE_TTL_MS, requests: 16, recordCommands: commands.map((args) => args[0]), ttlBeforeRenewalMs: before, ttlAfterMs: after }),
  );
}, 30_000);
