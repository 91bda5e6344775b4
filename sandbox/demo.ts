import { loadConfig } from '../src/config.js';
import { createGateway } from '../src/gateway.js';
import { createLogger } from '../src/logger.js';
import { SEED_USERS, startSandbox } from './index.js';

/**
 * `npm run demo`: the gateway on its built-in sandbox. A simulated Auth0 tenant and simulated
 * Google, Facebook and Bitbucket APIs start on loopback, the gateway runs on the in-memory store,
 * and GraphiQL opens with a caller token already in its headers.
 */
const DEFAULT_QUERY = `# A user token of the sandbox tenant is already in the Headers tab below.
# Each linked provider's API is a field of its identity; a provider that fails nulls only its field.
{
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
      calendarEvents(first: 3) { edges { node { summary start end } } pageInfo { hasNextPage endCursor } }
    }
    facebook {
      profile { name }
      friends(first: 3) { edges { node { name } } pageInfo { hasNextPage endCursor } }
    }
    bitbucket {
      account { displayName }
      workspaces { edges { node { slug name } } }
    }
  }
}
`;

const TOKEN_LIFETIME = 24 * 3600;
const sandbox = await startSandbox();
const userToken = await sandbox.tenant.issueAccessToken(
  { sub: SEED_USERS.ada, scope: 'openid profile email read:user_idp_tokens' },
  { expiresIn: TOKEN_LIFETIME },
);
const partnerToken = await sandbox.tenant.issueAccessToken(
  { sub: 'sandbox-partner@clients', scope: 'read:users read:user_idp_tokens read:connections', gty: 'client-credentials' },
  { expiresIn: TOKEN_LIFETIME },
);

const config = loadConfig({
  ...sandbox.env,
  PORT: process.env.PORT ?? '4000',
  HOST: process.env.HOST ?? '127.0.0.1',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  // The demo is for trying things from anywhere: GraphiQL on, and any origin may call it (without credentials).
  GRAPHIQL: process.env.GRAPHIQL ?? 'true',
  CORS_ORIGINS: process.env.CORS_ORIGINS ?? '*',
});
const gateway = createGateway(config, {
  logger: createLogger(config.logLevel),
  graphiql: {
    title: 'IdP token gateway (sandbox)',
    defaultQuery: DEFAULT_QUERY,
    headers: JSON.stringify({ Authorization: `Bearer ${userToken}` }, null, 2),
  },
});

gateway.server.on('error', (error: NodeJS.ErrnoException) => {
  console.error(error.code === 'EADDRINUSE' ? `Port ${config.port} is in use; run with PORT=<another port> npm run demo` : error.message);
  void shutdown(1);
});

gateway.server.listen(config.port, config.host, () => {
  const origin = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
  console.log(
    [
      '',
      'IdP token gateway: sandbox demo',
      '',
      `  GraphiQL          ${origin}/graphql   (opens with the user token below in its headers)`,
      `  Sandbox tenant    ${sandbox.tenant.origin}`,
      `  Cross-origin      ${corsNote(config.corsOrigins)}`,
      '',
      `  User token (${SEED_USERS.ada}, valid 24 h):`,
      `    ${userToken}`,
      '',
      '  Partner token (machine-to-machine, read:users read:user_idp_tokens read:connections):',
      `    ${partnerToken}`,
      '',
      '  Try it from a shell:',
      `    curl -s ${origin}/graphql -H 'content-type: application/json' \\`,
      `      -H "authorization: Bearer $USER_TOKEN" -d '{"query":"{ me { id email identities { provider token { state } } } }"}'`,
      '',
      '  Ctrl-C stops the demo.',
      '',
    ].join('\n'),
  );
});

/** What the demo tells about CORS_ORIGINS: `npm start` grants no origin unless told to. */
function corsNote(origins: '*' | string[]): string {
  if (origins === '*') return 'any origin may call this demo (CORS_ORIGINS=*, without credentials; `npm start` allows none by default)';
  return origins.length > 0 ? `only ${origins.join(', ')}` : 'no other origin (CORS_ORIGINS is empty)';
}

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await gateway.close().catch(() => undefined);
  await sandbox.close().catch(() => undefined);
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
