/**
 * A partner integration reading users through the gateway with a machine-to-machine token:
 *
 *   GATEWAY_URL=http://127.0.0.1:4000/graphql PARTNER_TOKEN=<token> npx tsx examples/partner/main.ts [user id ...]
 *
 * In production the token comes from your Auth0 tenant's `/oauth/token` (client-credentials grant,
 * `audience` = the gateway's API identifier, scopes `read:users read:user_idp_tokens`); cache it
 * until shortly before `expires_in` runs out instead of asking for one per run.
 */
import { GraphQLClient } from 'graphql-request';
import { fetchUsers } from './users.js';

const gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:4000/graphql';
const token = process.env.PARTNER_TOKEN;
if (!token) {
  console.error('Set PARTNER_TOKEN to a machine-to-machine access token for the gateway (`npm run demo` prints one).');
  process.exit(1);
}

// Without arguments, the demo's Ada, Katherine (her Google grant is revoked) and an id no user has.
const ids = process.argv.length > 2 ? process.argv.slice(2) : ['google-oauth2|111199914890750704174', 'google-oauth2|104729384756102938475', 'auth0|nobody'];

const client = new GraphQLClient(gatewayUrl, { headers: { authorization: `Bearer ${token}` } });
for (const { id, user, errors } of await fetchUsers(client, ids, { pageSize: 40 })) {
  if (!user) {
    console.log(`${id}: no such user`);
    continue;
  }
  const google = user.google ? `Google token ${user.google.token.state}${user.google.accessToken ? ', access token received' : ''}` : 'no Google identity';
  console.log(`${id}: ${user.name ?? '(no name)'} <${user.email ?? 'no email'}>, ${google}`);
  for (const { path, message, extensions } of errors) {
    const field = path?.slice(2).join('.');
    // REAUTHENTICATION_REQUIRED: only the user can fix it, by signing in with `extensions.connection` again.
    console.log(`  ${field}: ${typeof extensions?.code === 'string' ? extensions.code : 'error'}: ${message}`);
  }
}
