import { FakeBitbucket } from './bitbucket.js';
import { FakeFacebook } from './facebook.js';
import { FakeGitHub } from './github.js';
import { FakeGoogle } from './google.js';
import { FakeMicrosoft } from './microsoft.js';
import { FakeOAuth2 } from './oauth2.js';
import { seedSandbox, type SeededUsers } from './seed.js';
import { FakeTenant, type TenantOptions } from './tenant.js';

/**
 * The whole sandbox in one call: the simulated Auth0 tenant and every provider on loopback, seeded,
 * plus the environment variables that point the gateway at them. `npm run demo` and the integration
 * tests start exactly this, so the demo exercises the same fakes the tests trust.
 */

/** What `startSandbox` accepts. */
export interface SandboxOptions {
  tenant?: TenantOptions;
  /** Create the seed users, connections and provider data; default true. */
  seed?: boolean;
  /** Interface every server listens on; default 127.0.0.1. */
  host?: string;
  bitbucketMode?: 'rotating' | 'legacy';
}

/** A running sandbox. */
export interface Sandbox {
  tenant: FakeTenant;
  google: FakeGoogle;
  facebook: FakeFacebook;
  bitbucket: FakeBitbucket;
  oauth2: FakeOAuth2;
  github: FakeGitHub;
  /** Microsoft Graph and the identity platform's token endpoint. */
  microsoft: FakeMicrosoft;
  /** Undefined when started with `seed: false`. */
  users: SeededUsers | undefined;
  /** Gateway configuration pointing at the fakes; provider app credentials come from the Auth0 connections instead. */
  env: Record<string, string>;
  resetCounters(): void;
  clearFaults(): void;
  close(): Promise<void>;
}

/** Starts every fake on a free port, seeds them (unless told not to) and returns them with the gateway's env. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const tenant = new FakeTenant(options.tenant);
  const google = new FakeGoogle();
  const facebook = new FakeFacebook();
  const bitbucket = new FakeBitbucket({ mode: options.bitbucketMode ?? 'rotating' });
  const oauth2 = new FakeOAuth2();
  const github = new FakeGitHub();
  const microsoft = new FakeMicrosoft();
  const servers = [tenant, google, facebook, bitbucket, oauth2, github, microsoft];
  const close = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.close()));
  };
  try {
    await Promise.all(servers.map((server) => server.listen(0, host)));
  } catch (error) {
    // Close whichever did start, so a failed start leaks no listening sockets.
    await close();
    throw error;
  }
  const users = options.seed === false ? undefined : seedSandbox({ tenant, google, facebook, bitbucket, oauth2, github, microsoft });
  return {
    tenant,
    google,
    facebook,
    bitbucket,
    oauth2,
    github,
    microsoft,
    users,
    env: sandboxEnv({ tenant, google, facebook, bitbucket, oauth2, github, microsoft }),
    resetCounters: () => servers.forEach((server) => server.resetCounters()),
    clearFaults: () => servers.forEach((server) => server.clearFaults()),
    close,
  };
}

/** The gateway's environment variables for running fakes (origins are known only after `listen`). */
export function sandboxEnv(parts: Pick<Sandbox, 'tenant' | 'google' | 'facebook' | 'bitbucket' | 'oauth2' | 'github' | 'microsoft'>): Record<string, string> {
  return {
    AUTH0_DOMAIN: parts.tenant.origin,
    AUTH0_AUDIENCE: parts.tenant.audience,
    AUTH0_CLIENT_ID: parts.tenant.clientId,
    AUTH0_CLIENT_SECRET: parts.tenant.clientSecret,
    GOOGLE_API_URL: parts.google.origin,
    GOOGLE_TOKEN_URL: `${parts.google.origin}/token`,
    FACEBOOK_GRAPH_URL: `${parts.facebook.origin}/v26.0`,
    BITBUCKET_API_URL: `${parts.bitbucket.origin}/2.0`,
    BITBUCKET_TOKEN_URL: `${parts.bitbucket.origin}/site/oauth2/access_token`,
    GITHUB_GRAPHQL_URL: `${parts.github.origin}/graphql`,
    GITHUB_TOKEN_URL: `${parts.github.origin}/login/oauth/access_token`,
    MICROSOFT_GRAPH_URL: `${parts.microsoft.origin}/v1.0`,
    MICROSOFT_LOGIN_URL: parts.microsoft.origin,
    OAUTH2_CONNECTIONS: JSON.stringify({ 'my-custom-oauth': { apiUrl: `${parts.oauth2.origin}/api` } }),
  };
}

export { SEED_ACCOUNTS, SEED_USERS, type SeededUsers } from './seed.js';
