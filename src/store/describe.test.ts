import { describe, expect, it } from 'vitest';
import { describeStore, redisUrlWithoutSecrets } from './describe.js';

// The startup log line names the store; a Redis password must never reach it.

describe('redisUrlWithoutSecrets', () => {
  it('drops the password and keeps user, host, port and database', () => {
    expect(redisUrlWithoutSecrets('redis://app:s3cret-pass@redis.internal:6380/2')).toBe('redis://app@redis.internal:6380/2');
    expect(redisUrlWithoutSecrets('rediss://:s3cret-pass@redis.internal:6379')).toBe('rediss://redis.internal:6379');
  });

  it('drops a password given as a query option and keeps the other options', () => {
    const shown = redisUrlWithoutSecrets('redis://redis.internal:6379?password=s3cret-pass&family=6');
    expect(shown).not.toContain('s3cret');
    expect(shown).toBe('redis://redis.internal:6379?family=6');
  });

  it('does not echo a URL it cannot parse (it may hold a password)', () => {
    // It still says what is wrong with it, rather than logging an empty address.
    expect(redisUrlWithoutSecrets('redis://:s3cret@[bad')).toBe('(an unparsable URL)');
  });
});

describe('describeStore', () => {
  it('names the in-memory store, one Redis server and a cluster by its seed nodes', () => {
    expect(describeStore(undefined)).toMatch(/^memory/);
    expect(describeStore({ url: 'redis://:pw@localhost:6379', keyPrefix: 'idpgw:' })).toBe('Redis redis://localhost:6379, key prefix idpgw:');
    const cluster = describeStore({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '::1', port: 7001 },
      ],
      keyPrefix: 'gw:',
    });
    expect(cluster).toBe('Redis Cluster, seed nodes 10.0.0.1:7000,[::1]:7001, key prefix gw:');
  });
});
