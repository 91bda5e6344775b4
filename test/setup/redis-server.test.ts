import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

// Every test file keeps its keys under its own unique prefix: files run in parallel on one server.
const PREFIX = `test:setup:${randomUUID()}:`;

describe('test Redis server (globalSetup)', () => {
  const url = inject('redisUrl');
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });

  afterAll(async () => {
    if (!redis) return;
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('answers SET/GET under a private key prefix', async () => {
    await redis.set(`${PREFIX}greeting`, 'hello', 'PX', 60_000);
    expect(await redis.get(`${PREFIX}greeting`)).toBe('hello');
  });

  it('is a private server on a free loopback port when redis-server is on PATH', async (ctx) => {
    if (inject('redisSource') !== 'private') ctx.skip('redis-server is not on PATH: the run uses REDIS_URL');
    const parsed = new URL(url);
    expect(parsed.hostname).toBe('127.0.0.1');
    expect(parsed.port).not.toBe('');
    expect(parsed.port).not.toBe('6379');
    const info = await redis.info('server');
    expect(info).toMatch(new RegExp(`^tcp_port:${parsed.port}\\r?$`, 'm'));
  });
});
