import type { RedisConfig } from '../config.js';

/**
 * Names the shared store for the startup log line: `memory`, the Redis URL without its password,
 * or the Redis Cluster's seed nodes, with the key prefix. Never a credential.
 */
export function describeStore(redis: RedisConfig | undefined): string {
  if (!redis) return 'memory (this process only)';
  if ('nodes' in redis) {
    const nodes = redis.nodes.map(({ host, port }) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`));
    return `Redis Cluster, seed nodes ${nodes.join(',')}, key prefix ${redis.keyPrefix}`;
  }
  return `Redis ${redisUrlWithoutSecrets(redis.url)}, key prefix ${redis.keyPrefix}`;
}

// ioredis takes options from the query string as well, a `password` among them.
const SECRET_PARAM = /pass|secret|token|auth|key/i;

/** A Redis URL as it may be logged: no password in the user info or the query string. */
export function redisUrlWithoutSecrets(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(an unparsable URL)';
  }
  parsed.password = '';
  for (const name of [...parsed.searchParams.keys()]) if (SECRET_PARAM.test(name)) parsed.searchParams.delete(name);
  parsed.hash = '';
  return parsed.toString();
}
