import type { GraphiQLPageOptions } from '../src/plugins/use-graphiql.js';
import { SEED_USERS } from './seed.js';
import type { FakeTenant } from './tenant.js';

/**
 * What `npm run demo` configures, apart from starting anything: the caller tokens it issues, the
 * gateway's environment and the tabs GraphiQL opens with. The browser test of GraphiQL builds its
 * gateway from these same values, so it checks the page a demo user gets.
 */

/** The demo's user query, in GraphiQL's first tab. */
export const DEMO_USER_QUERY = `# Ada's user token is in the Headers tab below; the
# "Partner" tab reads any user with the partner token.
# Each linked provider's API is a field of its identity;
# a provider that fails nulls only its own field.
query Me {
  me {
    id
    email
    identities {
      provider
      connection
      userId
      token { state expiresAt hasRefreshToken }
    }
    google {
      profile { email name }
      calendarEvents(first: 3) {
        edges { node { summary start end } }
        pageInfo { hasNextPage endCursor }
      }
    }
    facebook {
      profile { name }
      friends(first: 3) {
        edges { node { name } }
        pageInfo { hasNextPage endCursor }
      }
    }
    bitbucket {
      account { displayName }
      workspaces { edges { node { slug name } } }
    }
  }
}
`;

/** The demo's partner query, in GraphiQL's second tab, with the partner token. */
export const DEMO_PARTNER_QUERY = `# The partner token (machine to machine), in this tab's
# Headers, may read any user. The ids in Variables are
# one batch: an unknown id is null in its place.
# Grace has linked GitHub and Microsoft (acme-azure) accounts.
query Partner($ids: [ID!]!) {
  users(ids: $ids) {
    id
    name
    email
    google { token { state } }
    github {
      profile { login name }
      repositories(first: 3) {
        edges { node { nameWithOwner stargazerCount updatedAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
    microsoft {
      profile { displayName mail }
      messages(first: 3) {
        edges { node { subject from receivedDateTime } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
`;

/**
 * The partner query's variables: Ada (a valid Google token), Grace (expired Google and Microsoft
 * tokens, renewable; her GitHub profile and repositories travel in one upstream GraphQL document), Katherine
 * (expired, and Google has revoked her grant: the first use of it makes it REAUTHENTICATION_REQUIRED)
 * and an id nobody has.
 */
export const DEMO_PARTNER_VARIABLES = { ids: [SEED_USERS.ada, SEED_USERS.grace, SEED_USERS.revokedGoogle, 'auth0|nobody'] };

/** The scopes of the demo's caller tokens. */
export const DEMO_SCOPES = {
  user: 'openid profile email read:user_idp_tokens',
  partner: 'read:users read:user_idp_tokens read:connections',
} as const;

/** The demo's caller tokens: Ada's and a machine-to-machine partner's. */
export interface DemoTokens {
  user: string;
  partner: string;
}

/** How long the demo's caller tokens are valid, in seconds: a day, so a demo left open keeps working. */
export const DEMO_TOKEN_LIFETIME = 24 * 3600;

/** Issues the demo's caller tokens on the sandbox tenant. */
export async function issueDemoTokens(tenant: FakeTenant): Promise<DemoTokens> {
  const options = { expiresIn: DEMO_TOKEN_LIFETIME };
  const [user, partner] = await Promise.all([
    tenant.issueAccessToken({ sub: SEED_USERS.ada, scope: DEMO_SCOPES.user }, options),
    tenant.issueAccessToken({ sub: 'sandbox-partner@clients', scope: DEMO_SCOPES.partner, gty: 'client-credentials' }, options),
  ]);
  return { user, partner };
}

/**
 * The gateway's environment in the demo: the sandbox's, plus the few settings the demo takes from
 * its own environment (`PORT`, `HOST`, `LOG_LEVEL`, `GRAPHIQL`, `CORS_ORIGINS`) with the demo's defaults.
 */
export function demoEnv(sandboxEnv: Record<string, string>, env: Record<string, string | undefined>): Record<string, string> {
  return {
    ...sandboxEnv,
    PORT: env.PORT ?? '4000',
    HOST: env.HOST ?? '127.0.0.1',
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    // The demo is for trying things from anywhere: GraphiQL on, and any origin may call it (without credentials).
    GRAPHIQL: env.GRAPHIQL ?? 'true',
    CORS_ORIGINS: env.CORS_ORIGINS ?? '*',
  };
}

/** GraphiQL in the demo: the user query with Ada's token, then the partner query with the partner token. */
export function demoGraphiQL(tokens: DemoTokens): GraphiQLPageOptions {
  const headers = (token: string): string => JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2);
  return {
    title: 'IdP token gateway (sandbox)',
    // A tab the user adds gets Ada's token too.
    headers: headers(tokens.user),
    tabs: [
      { query: DEMO_USER_QUERY, headers: headers(tokens.user) },
      { query: DEMO_PARTNER_QUERY, variables: JSON.stringify(DEMO_PARTNER_VARIABLES, null, 2), headers: headers(tokens.partner) },
    ],
  };
}
