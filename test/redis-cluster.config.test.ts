import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { VALID, configError, key32 } from './helpers/config.js';

// REDIS_CLUSTER_NODES: seed nodes of a Redis Cluster, the alternative to REDIS_URL. Both set is a
// configuration error naming both; TOKEN_ENCRYPTION_KEY is required with it as with REDIS_URL.

describe('loadConfig: REDIS_CLUSTER_NODES', () => {
  it('reads the seed nodes into config.redis, with the key prefix', () => {
    const config = loadConfig({
      ...VALID,
      REDIS_CLUSTER_NODES: ' redis-1:6379, 10.0.0.2:7001 ,[::1]:7002,',
      REDIS_KEY_PREFIX: 'gw:',
      TOKEN_ENCRYPTION_KEY: key32(),
    });
    expect(config.redis).toEqual({
      nodes: [
        { host: 'redis-1', port: 6379 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      keyPrefix: 'gw:',
    });
    expect(config.redis && 'nodes' in config.redis).toBe(true);
  });

  it('keeps REDIS_URL as one server', () => {
    const config = loadConfig({ ...VALID, REDIS_URL: 'redis://127.0.0.1:6379', TOKEN_ENCRYPTION_KEY: key32() });
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379', keyPrefix: 'idpgw:' });
    expect(config.redis && 'nodes' in config.redis).toBe(false);
  });

  it('requires TOKEN_ENCRYPTION_KEY with it', () => {
    const error = configError({ ...VALID, REDIS_CLUSTER_NODES: '127.0.0.1:7000' });
    expect(error.problems).toEqual([expect.stringMatching(/^TOKEN_ENCRYPTION_KEY .*REDIS_CLUSTER_NODES/)]);
  });

  it('refuses it together with REDIS_URL, naming both', () => {
    const error = configError({ ...VALID, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000', TOKEN_ENCRYPTION_KEY: key32() });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain('REDIS_CLUSTER_NODES');
    expect(error.problems[0]).toContain('REDIS_URL');
    expect(error.message).toMatch(/not both/);
  });

  it.each([
    ['a missing port', 'redis-1'],
    ['port 0', '127.0.0.1:0'],
    ['port 65536', '127.0.0.1:65536'],
    ['a port that is not a number', '127.0.0.1:http'],
    ['a URL', 'redis://127.0.0.1:7000'],
    ['an empty host', ':7000'],
    ['an unbracketed IPv6 address', '::1:7000'],
    ['one bad entry among good ones', '127.0.0.1:7000,127.0.0.1:99999,127.0.0.1:7002'],
    ['no entry at all', ' , '],
  ])('names REDIS_CLUSTER_NODES for %s', (_name, value) => {
    const error = configError({ ...VALID, REDIS_CLUSTER_NODES: value, TOKEN_ENCRYPTION_KEY: key32() });
    expect(error.problems).toEqual([expect.stringContaining('REDIS_CLUSTER_NODES')]);
  });

  it('refuses a key prefix with a brace on a cluster (it would break the hash tags), not on one server', () => {
    const error = configError({ ...VALID, REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_KEY_PREFIX: 'gw{1}:', TOKEN_ENCRYPTION_KEY: key32() });
    expect(error.problems).toEqual([expect.stringContaining('REDIS_KEY_PREFIX')]);
    expect(loadConfig({ ...VALID, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: 'gw{1}:', TOKEN_ENCRYPTION_KEY: key32() }).redis).toEqual({
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'gw{1}:',
    });
  });
});
