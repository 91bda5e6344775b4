import { loadConfig } from '../src/config.js';
import { createGateway } from '../src/gateway.js';
import { createLogger } from '../src/logger.js';
import { DEMO_PARTNER_VARIABLES, DEMO_SCOPES, demoEnv, demoGraphiQL, issueDemoTokens } from './demo-options.js';
import { SEED_USERS, startSandbox } from './index.js';

/**
 * `npm run demo`: the gateway on its built-in sandbox. A simulated Auth0 tenant and simulated
 * Google, Facebook, Bitbucket and GitHub APIs start on loopback, the gateway runs on the in-memory store,
 * and GraphiQL opens with two tabs: Ada's query with her token, a partner query with the partner token.
 */

const sandbox = await startSandbox();
const tokens = await issueDemoTokens(sandbox.tenant);
const config = loadConfig(demoEnv(sandbox.env, process.env));
const gateway = createGateway(config, { logger: createLogger(config.logLevel), graphiql: demoGraphiQL(tokens) });

gateway.server.on('error', (error: NodeJS.ErrnoException) => {
  console.error(error.code === 'EADDRINUSE' ? `Port ${config.port} is in use; run with PORT=<another port> npm run demo` : error.message);
  void shutdown(1);
});

gateway.server.listen(config.port, config.host, () => {
  const origin = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
  console.log(banner(origin));
});

/** What the demo prints once it listens: where things are, the tokens as shell exports, and curl lines using them. */
function banner(origin: string): string {
  const endpoint = `${origin}/graphql`;
  const userBody = { query: '{ me { id email identities { provider token { state } } } }' };
  const partnerBody = {
    query: 'query Partner($ids: [ID!]!) { users(ids: $ids) { id email google { token { state } } } }',
    variables: DEMO_PARTNER_VARIABLES,
  };
  const curl = (tokenVariable: string, body: object): string[] => [
    `    curl -s -w '\\n' ${endpoint} -H 'content-type: application/json' \\`,
    `      -H "authorization: Bearer $${tokenVariable}" \\`,
    `      -d ${shellQuote(JSON.stringify(body))}`,
  ];
  return [
    '',
    'IdP token gateway: sandbox demo',
    '',
    `  GraphiQL          ${endpoint}`,
    `                    (tab "Me": Ada's query and user token; tab "Partner": the partner query and token)`,
    `  Sandbox tenant    ${sandbox.tenant.origin}`,
    `  Cross-origin      ${corsNote(config.corsOrigins)}`,
    '',
    '  Caller tokens, valid 24 h:',
    `    USER_TOKEN      Ada, ${SEED_USERS.ada} (scope: ${DEMO_SCOPES.user})`,
    `    PARTNER_TOKEN   a machine-to-machine client (scope: ${DEMO_SCOPES.partner})`,
    '',
    '  Paste into a shell:',
    '',
    `    export USER_TOKEN=${tokens.user}`,
    `    export PARTNER_TOKEN=${tokens.partner}`,
    '',
    '  Then, as Ada:',
    '',
    ...curl('USER_TOKEN', userBody),
    '',
    '  As the partner, several users in one batch (an unknown id is null in its place):',
    '',
    ...curl('PARTNER_TOKEN', partnerBody),
    '',
    '  Ctrl-C stops the demo.',
    '',
  ].join('\n');
}

/** A shell word that is exactly `text`: single-quoted, each `'` written as `'\''`. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

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
