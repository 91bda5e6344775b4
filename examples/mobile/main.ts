/**
 * The mobile client's profile screen, run from a terminal against a gateway:
 *
 *   GATEWAY_URL=http://127.0.0.1:4000/graphql USER_TOKEN=<token> npx tsx examples/mobile/main.ts
 *
 * It loads the profile twice and logs every request: the first load sends the hash (GET), learns
 * that the gateway does not know it yet and sends the query (POST); the second is one GET.
 */
import manifest from '../persisted-query-manifest.json' with { type: 'json' };
import { createPersistedQueryClient } from './persisted-client.js';
import { MobileProfile } from './profile.js';

const gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:4000/graphql';
const token = process.env.USER_TOKEN;
if (!token) {
  console.error('Set USER_TOKEN to a user access token for the gateway (`npm run demo` prints one).');
  process.exit(1);
}

const client = createPersistedQueryClient({
  url: gatewayUrl,
  getAccessToken: async () => token,
  operations: manifest.operations,
  // Logs each request, to show the protocol at work.
  fetch: async (input, init) => {
    const response = await fetch(input, init);
    const url = input instanceof Request ? input.url : input.toString();
    console.log(`${init?.method ?? 'GET'} ${url.length > 100 ? `${url.slice(0, 100)}…` : url} -> HTTP ${response.status}`);
    return response;
  },
});

for (const load of ['first load', 'second load']) {
  const { data, errors } = await client.execute(MobileProfile);
  console.log(`${load}: ${data?.me.name ?? '(no data)'}, identities ${data?.me.identities.map((i) => `${i.provider} ${i.token.state}`).join(', ') ?? '-'}`);
  for (const error of errors ?? []) console.log(`  ${String(error.extensions?.code)}: ${error.message}`);
}
