/**
 * Runs the page's logic from a terminal, against a gateway, with a user token from the environment:
 *
 *   GATEWAY_URL=http://127.0.0.1:4000/graphql USER_TOKEN=<token> npx tsx examples/browser/main.ts
 *
 * It prints the HTML the page would show, and the `loginWithRedirect` call each "Reconnect" button
 * would make. In a browser, `auth` is the auth0-spa-js client (see examples/README.md).
 */
import { loadAccounts, reconnect, renderAccounts, type AuthClient } from './accounts.js';

const gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:4000/graphql';
const token = process.env.USER_TOKEN;
if (!token) {
  console.error('Set USER_TOKEN to a user access token for the gateway (`npm run demo` prints one).');
  process.exit(1);
}

const auth: AuthClient = {
  getTokenSilently: async () => token,
  loginWithRedirect: async (options) => console.log(`loginWithRedirect(${JSON.stringify(options)})`),
};

const view = await loadAccounts(gatewayUrl, auth);
console.log(renderAccounts(view));
for (const target of view.reconnect) await reconnect(auth, target);
