import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { VALID, configError, key32 } from './helpers/config.js';

// The environment (and `.env` in the working directory) is validated in one place, and an incomplete
// or invalid configuration is refused with ONE message naming every missing or invalid variable:
// `npm start` must not start half-configured.

const REQUIRED = ['AUTH0_DOMAIN', 'AUTH0_AUDIENCE', 'AUTH0_CLIENT_ID', 'AUTH0_CLIENT_SECRET'] as const;

describe('loadConfig: required variables', () => {
  it('refuses an empty environment with one ConfigError naming every required variable and `npm run demo`', () => {
    const error = configError({});
    expect(error.name).toBe('ConfigError');
    for (const name of REQUIRED) expect(error.message).toContain(name);
    expect(error.message).toContain('npm run demo');
    expect(error.problems).toHaveLength(REQUIRED.length);
  });

  it('names only the variable that is missing', () => {
    const { AUTH0_CLIENT_SECRET: _omitted, ...rest } = VALID;
    const error = configError(rest);
    expect(error.problems).toEqual([expect.stringContaining('AUTH0_CLIENT_SECRET')]);
    expect(error.message).not.toContain('AUTH0_DOMAIN');
  });

  it('treats an empty string as unset', () => {
    const error = configError({ ...VALID, AUTH0_AUDIENCE: '' });
    expect(error.problems).toEqual([expect.stringMatching(/AUTH0_AUDIENCE.*required/)]);
    expect(loadConfig({ ...VALID, PORT: '', HOST: '' })).toMatchObject({ port: 4000, host: '0.0.0.0' });
  });

  it('accepts the four required variables alone', () => {
    expect(() => loadConfig(VALID)).not.toThrow();
  });
});

describe('loadConfig: AUTH0_DOMAIN', () => {
  it('implies https:// for a bare tenant domain', () => {
    expect(loadConfig({ ...VALID, AUTH0_DOMAIN: 'acme.eu.auth0.com' }).auth0.origin).toBe('https://acme.eu.auth0.com');
  });

  it('accepts a full origin and drops the trailing slash', () => {
    expect(loadConfig({ ...VALID, AUTH0_DOMAIN: 'http://127.0.0.1:4010/' }).auth0.origin).toBe('http://127.0.0.1:4010');
    expect(loadConfig({ ...VALID, AUTH0_DOMAIN: 'https://acme.eu.auth0.com' }).auth0.origin).toBe('https://acme.eu.auth0.com');
  });

  it('names AUTH0_DOMAIN when it is no domain at all', () => {
    expect(configError({ ...VALID, AUTH0_DOMAIN: 'not a domain' }).message).toContain('AUTH0_DOMAIN');
  });

  it('names AUTH0_DOMAIN when it has a scheme other than http(s)', () => {
    expect(configError({ ...VALID, AUTH0_DOMAIN: 'ftp://acme.example' }).message).toContain('AUTH0_DOMAIN');
  });
});

describe('loadConfig: REDIS_URL and TOKEN_ENCRYPTION_KEY', () => {
  it('requires TOKEN_ENCRYPTION_KEY when REDIS_URL is set', () => {
    const error = configError({ ...VALID, REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(error.problems).toEqual([expect.stringContaining('TOKEN_ENCRYPTION_KEY')]);
  });

  it('rejects a 16-byte key, naming TOKEN_ENCRYPTION_KEY but not echoing the key', () => {
    const short = randomBytes(16).toString('base64');
    const error = configError({ ...VALID, REDIS_URL: 'redis://127.0.0.1:6379', TOKEN_ENCRYPTION_KEY: short });
    expect(error.message).toContain('TOKEN_ENCRYPTION_KEY');
    expect(error.message).toContain('32 bytes');
    expect(error.message).not.toContain(short);
    expect(error.message).not.toContain(VALID.AUTH0_CLIENT_SECRET);
  });

  it('rejects a list in which one key is not 32 bytes', () => {
    const error = configError({ ...VALID, TOKEN_ENCRYPTION_KEY: `${key32()},${randomBytes(31).toString('base64')}` });
    expect(error.message).toContain('TOKEN_ENCRYPTION_KEY');
  });

  it('accepts several comma-separated 32-byte keys, in order (the first seals)', () => {
    const keys = [key32(), key32(), key32()];
    const config = loadConfig({ ...VALID, REDIS_URL: 'rediss://cache.example:6380', TOKEN_ENCRYPTION_KEY: keys.join(', ') });
    expect(config.encryptionKeys?.map((key) => key.toString('base64'))).toEqual(keys);
    expect(config.redis).toEqual({ url: 'rediss://cache.example:6380', keyPrefix: 'idpgw:' });
  });

  it('names REDIS_URL when it is not redis:// or rediss://', () => {
    const error = configError({ ...VALID, REDIS_URL: 'http://x', TOKEN_ENCRYPTION_KEY: key32() });
    expect(error.problems).toEqual([expect.stringContaining('REDIS_URL')]);
  });

  it('uses the in-memory store without REDIS_URL', () => {
    const config = loadConfig(VALID);
    expect(config.redis).toBeUndefined();
    expect(config.encryptionKeys).toBeUndefined();
  });
});

describe('loadConfig: invalid values are named', () => {
  it.each(['GOOGLE_API_URL', 'GOOGLE_TOKEN_URL', 'FACEBOOK_GRAPH_URL', 'BITBUCKET_API_URL', 'BITBUCKET_TOKEN_URL', 'GITHUB_GRAPHQL_URL', 'GITHUB_TOKEN_URL'])(
    'names %s when it is not an http(s) URL',
    (name) => {
      expect(configError({ ...VALID, [name]: 'not a url' }).problems).toEqual([expect.stringContaining(name)]);
      expect(configError({ ...VALID, [name]: 'ftp://files.example/x' }).problems).toEqual([expect.stringContaining(name)]);
    },
  );

  it('names PORT when it is not a port number', () => {
    expect(configError({ ...VALID, PORT: 'abc' }).problems).toEqual([expect.stringContaining('PORT')]);
    expect(configError({ ...VALID, PORT: '70000' }).problems).toEqual([expect.stringContaining('PORT')]);
    expect(loadConfig({ ...VALID, PORT: '8080' }).port).toBe(8080);
  });

  it('names OAUTH2_CONNECTIONS when it is not JSON', () => {
    expect(configError({ ...VALID, OAUTH2_CONNECTIONS: '{not json' }).problems).toEqual([expect.stringContaining('OAUTH2_CONNECTIONS')]);
  });

  it('names OAUTH2_CONNECTIONS when it is JSON but not an object of connections', () => {
    expect(configError({ ...VALID, OAUTH2_CONNECTIONS: '"corp"' }).message).toContain('OAUTH2_CONNECTIONS');
  });

  it('names OAUTH2_CONNECTIONS and apiUrl when an entry has no apiUrl', () => {
    const error = configError({ ...VALID, OAUTH2_CONNECTIONS: JSON.stringify({ corp: { tokenUrl: 'https://corp.example/token' } }) });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain('OAUTH2_CONNECTIONS');
    expect(error.problems[0]).toContain('apiUrl');
    expect(error.problems[0]).not.toMatch(/required but not set/);
  });

  it('reads a valid OAUTH2_CONNECTIONS entry, trailing slashes removed', () => {
    const config = loadConfig({
      ...VALID,
      OAUTH2_CONNECTIONS: JSON.stringify({ corp: { apiUrl: 'http://127.0.0.1:4020/api/', clientId: 'id', clientSecret: 'secret' } }),
    });
    expect(config.providers.oauth2.corp).toMatchObject({ apiUrl: 'http://127.0.0.1:4020/api', clientId: 'id', clientSecret: 'secret' });
  });

  it('names every bad variable in one message', () => {
    const error = configError({
      PORT: 'abc',
      AUTH0_DOMAIN: 'acme.eu.auth0.com',
      REDIS_URL: 'http://x',
      GOOGLE_API_URL: 'nope',
      OAUTH2_CONNECTIONS: '{',
    });
    for (const name of ['PORT', 'REDIS_URL', 'GOOGLE_API_URL', 'OAUTH2_CONNECTIONS', 'AUTH0_AUDIENCE', 'AUTH0_CLIENT_ID', 'AUTH0_CLIENT_SECRET']) {
      expect(error.message).toContain(name);
    }
    expect(error.message).not.toContain('AUTH0_DOMAIN');
    expect(error.message).toContain('npm run demo');
  });
});

describe('loadConfig: defaults', () => {
  it('listens on 0.0.0.0:4000 and uses the public provider endpoints', () => {
    const config = loadConfig(VALID);
    expect(config.port).toBe(4000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.providers.google).toMatchObject({ apiUrl: 'https://www.googleapis.com', tokenUrl: 'https://oauth2.googleapis.com/token' });
    expect(config.providers.facebook).toMatchObject({ graphUrl: 'https://graph.facebook.com/v26.0' });
    expect(config.providers.bitbucket).toMatchObject({
      apiUrl: 'https://api.bitbucket.org/2.0',
      tokenUrl: 'https://bitbucket.org/site/oauth2/access_token',
    });
    expect(config.providers.oauth2).toEqual({});
    expect(config.providers.github).toEqual({
      graphqlUrl: 'https://api.github.com/graphql',
      tokenUrl: 'https://github.com/login/oauth/access_token',
      clientId: undefined,
      clientSecret: undefined,
    });
  });

  it('leaves provider app credentials unset, so they are read from the Auth0 connections', () => {
    const { google, facebook, bitbucket } = loadConfig(VALID).providers;
    expect([google.clientId, google.clientSecret, facebook.appId, facebook.appSecret, bitbucket.clientId, bitbucket.clientSecret]).toEqual(
      Array(6).fill(undefined),
    );
  });

  it('accepts every URL variable pointing at a loopback server', () => {
    const config = loadConfig({
      ...VALID,
      GOOGLE_API_URL: 'http://127.0.0.1:4011',
      GOOGLE_TOKEN_URL: 'http://127.0.0.1:4011/token',
      FACEBOOK_GRAPH_URL: 'http://127.0.0.1:4012/v26.0/',
      BITBUCKET_API_URL: 'http://127.0.0.1:4013/2.0',
      BITBUCKET_TOKEN_URL: 'http://127.0.0.1:4013/site/oauth2/access_token',
    });
    expect(config.providers.google).toMatchObject({ apiUrl: 'http://127.0.0.1:4011', tokenUrl: 'http://127.0.0.1:4011/token' });
    expect(config.providers.facebook.graphUrl).toBe('http://127.0.0.1:4012/v26.0');
  });
});

describe('loadConfig: hardening variables', () => {
  it('defaults to no cross-origin grant, GraphiQL off, a 256 KiB body, 100 upstream calls and the document limits', () => {
    expect(loadConfig(VALID)).toMatchObject({
      corsOrigins: [],
      graphiql: false,
      metricsPort: undefined,
      userMissingTtlSeconds: 10,
      limits: { maxBodyBytes: 262144, maxUpstreamCalls: 100, maxDepth: 15, maxAliases: 15, maxTokens: 2000, maxDirectives: 20 },
    });
  });

  it('reads CORS_ORIGINS as `*` or a list of origins, and GRAPHIQL as a switch', () => {
    expect(loadConfig({ ...VALID, CORS_ORIGINS: '*' }).corsOrigins).toBe('*');
    expect(loadConfig({ ...VALID, CORS_ORIGINS: 'https://app.example.com, http://localhost:3000/' }).corsOrigins).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
    ]);
    expect(loadConfig({ ...VALID, GRAPHIQL: 'true' }).graphiql).toBe(true);
    expect(loadConfig({ ...VALID, GRAPHIQL: 'off' }).graphiql).toBe(false);
  });

  it('names every bad hardening variable at once', () => {
    const error = configError({
      ...VALID,
      CORS_ORIGINS: 'null',
      GRAPHIQL: 'maybe',
      MAX_BODY_BYTES: '0',
      MAX_UPSTREAM_CALLS: 'many',
      MAX_DEPTH: '-1',
      METRICS_PORT: '70000',
    });
    for (const name of ['CORS_ORIGINS', 'GRAPHIQL', 'MAX_BODY_BYTES', 'MAX_UPSTREAM_CALLS', 'MAX_DEPTH', 'METRICS_PORT']) {
      expect(error.message).toContain(name);
    }
    expect(error.message).toMatch(/`null` is never allowed/);
  });

  it('refuses origins with a path, other schemes and `*` mixed into a list', () => {
    expect(configError({ ...VALID, CORS_ORIGINS: 'https://app.example.com/path' }).message).toMatch(/CORS_ORIGINS is invalid: .*not an origin/);
    expect(configError({ ...VALID, CORS_ORIGINS: 'ftp://files.example.com' }).message).toMatch(/CORS_ORIGINS is invalid/);
    expect(configError({ ...VALID, CORS_ORIGINS: '*,https://app.example.com' }).message).toMatch(/cannot be combined/);
  });
});

describe('loadConfig: persisted operations', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Writes `text` to a manifest file in a fresh directory and returns its path. */
  function manifestFile(text: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'gateway-manifest-test-'));
    dirs.push(dir);
    const file = path.join(dir, 'manifest.json');
    writeFileSync(file, text);
    return file;
  }

  const operation = { id: 'me@1', name: 'Me', type: 'query', body: 'query Me { me { id } }' };
  const manifest = (operations: unknown[]) => JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations });

  it('defaults to automatic persisted queries: no trusted documents, 16 KiB documents kept for an hour', () => {
    expect(loadConfig(VALID).persistedOperations).toEqual({ trustedDocuments: undefined, maxBytes: 16384, ttlSeconds: 3600 });
  });

  it('reads PERSISTED_QUERY_MAX_BYTES and PERSISTED_QUERY_TTL_SECONDS, naming them when invalid', () => {
    expect(loadConfig({ ...VALID, PERSISTED_QUERY_MAX_BYTES: '4096', PERSISTED_QUERY_TTL_SECONDS: '300' }).persistedOperations).toMatchObject({
      maxBytes: 4096,
      ttlSeconds: 300,
    });
    const error = configError({ ...VALID, PERSISTED_QUERY_MAX_BYTES: '0', PERSISTED_QUERY_TTL_SECONDS: 'a day' });
    expect(error.problems).toEqual([expect.stringContaining('PERSISTED_QUERY_MAX_BYTES'), expect.stringContaining('PERSISTED_QUERY_TTL_SECONDS')]);
  });

  it('reads the manifest TRUSTED_DOCUMENTS names, by id', () => {
    const documents = loadConfig({ ...VALID, TRUSTED_DOCUMENTS: manifestFile(manifest([operation])) }).persistedOperations.trustedDocuments;
    expect([...(documents?.keys() ?? [])]).toEqual(['me@1']);
    expect(documents?.get('me@1')?.body).toBe(operation.body);
  });

  it('names TRUSTED_DOCUMENTS and the path when the file is missing', () => {
    const error = configError({ ...VALID, TRUSTED_DOCUMENTS: '/nonexistent/persisted-query-manifest.json' });
    expect(error.problems).toEqual(['TRUSTED_DOCUMENTS is invalid: cannot read /nonexistent/persisted-query-manifest.json (ENOENT)']);
  });

  it('names TRUSTED_DOCUMENTS when the file is not JSON, not a manifest, or holds a body that does not parse', () => {
    const broken = { ...operation, body: 'query Me { me {' };
    for (const [text, reason] of [
      ['{"format": "apollo-persisted-query-manifest", ', /is not JSON/],
      [
        JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 2, operations: [operation] }),
        /not an apollo-persisted-query-manifest of version 1: version/,
      ],
      [JSON.stringify({ operations: [operation] }), /format/],
      [manifest([broken]), /Me \(me@1\) is not a GraphQL document/],
      [manifest([]), /lists no operations/],
    ] as const) {
      const error = configError({ ...VALID, TRUSTED_DOCUMENTS: manifestFile(text) });
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^TRUSTED_DOCUMENTS is invalid: /);
      expect(error.problems[0]).toMatch(reason);
    }
  });

  it('names a bad TRUSTED_DOCUMENTS together with every other bad variable', () => {
    const error = configError({ ...VALID, TRUSTED_DOCUMENTS: '/nonexistent/m.json', PORT: 'abc' });
    expect(error.problems).toEqual([expect.stringContaining('PORT'), expect.stringContaining('TRUSTED_DOCUMENTS')]);
  });
});

// `npm start` is `node dist/main.js` (the compiled build; the test setup builds it); spawn exactly
// that entry point, from an empty working directory (so no .env of the repository is read) with an
// environment holding only PATH and HOME.
describe('npm start (dist/main.js as a process)', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const mainScript = path.join(root, 'dist/main.js');
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function freshDir(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'gateway-config-test-'));
    dirs.push(dir);
    return dir;
  }

  function runMain(cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [mainScript], {
        cwd,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`dist/main.js did not exit within 8 s; stdout: ${stdout}; stderr: ${stderr}`));
      }, 8_000);
      child.once('error', reject);
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  it('exits 1 with one message naming the four required variables and `npm run demo`, nothing on stdout', async () => {
    const { code, stdout, stderr } = await runMain(freshDir());
    expect(code).toBe(1);
    expect(stdout).toBe('');
    for (const name of REQUIRED) expect(stderr).toContain(name);
    expect(stderr).toContain('npm run demo');
    // One clear message, not a stack trace.
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('reads .env from the working directory', async () => {
    const dir = freshDir();
    writeFileSync(path.join(dir, '.env'), 'PORT=notaport\n');
    const { code, stdout, stderr } = await runMain(dir);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/PORT is invalid/);
  });

  it('exits 1 with one message naming TRUSTED_DOCUMENTS when its manifest is missing, not a stack trace', async () => {
    const dir = freshDir();
    const env = Object.entries({ ...VALID, TRUSTED_DOCUMENTS: 'missing-manifest.json' }).map(([name, value]) => `${name}=${value}`);
    writeFileSync(path.join(dir, '.env'), `${env.join('\n')}\n`);
    const { code, stdout, stderr } = await runMain(dir);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain('TRUSTED_DOCUMENTS is invalid: cannot read missing-manifest.json (ENOENT)');
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
