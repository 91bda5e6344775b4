import type { Auth0Connection } from '../auth0/types.js';
import { UpstreamUnavailableError } from '../errors.js';
import { statusOfAuth0Tokens } from '../tokens/status.js';
import { adminTokenSubject, adminTokensOf } from '../tokens/subjects.js';
import { builder } from './builder.js';
import { upstreamCalls } from './cost.js';
import type { GatewayContext } from './context.js';
import { TokenStatus } from './identity.js';

/**
 * The connection's admin tokens as a broker subject. Tokens in hand from the connection read are
 * adopted first (idempotent), so the broker answers from one record whether or not it renewed.
 */
async function adminSubject(connection: Auth0Connection, context: GatewayContext) {
  const subject = adminTokenSubject(context.services.connections, connection);
  const tokens = adminTokensOf(connection);
  let stored = true;
  if (tokens) {
    try {
      await context.services.tokens.adopt(subject.key, tokens);
    } catch (error) {
      context.services.logger.warn({ event: 'token_store_failed', provider: connection.strategy, err: error }, 'token store unavailable');
      stored = false;
    }
  }
  return { subject, tokens, stored };
}

/** An Auth0 connection, with the admin tokens of enterprise connections that hold admin consent. */
export const EnterpriseConnection = builder.objectRef<Auth0Connection>('EnterpriseConnection').implement({
  description: 'An Auth0 connection; enterprise connections with admin consent hold admin tokens for their directory API.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The Auth0 connection id (`con_…`).' }),
    name: t.exposeString('name', { description: 'The connection name.' }),
    strategy: t.exposeString('strategy', { description: 'The Auth0 strategy, e.g. google-apps, waad.' }),
    adminToken: t.field({
      type: TokenStatus,
      nullable: true,
      description: 'The state of the admin access token; null when the connection holds no admin token.',
      resolve: async (connection, _args, context) => {
        const { subject, tokens, stored } = await adminSubject(connection, context);
        if (!tokens) return null;
        // With the store down, the connection's own tokens still tell their state.
        return (stored ? await context.services.tokens.status(subject) : undefined) ?? statusOfAuth0Tokens(tokens);
      },
    }),
    adminAccessToken: t.string({
      nullable: true,
      description: 'A valid admin access token, renewed when needed; null when the connection holds none. Needs read:connections and read:user_idp_tokens.',
      authScopes: { scope: 'read:user_idp_tokens' },
      resolve: async (connection, _args, context) => {
        const { subject, tokens, stored } = await adminSubject(connection, context);
        if (!tokens) return null;
        if (!stored) throw new UpstreamUnavailableError(connection.strategy, 'the token store is unavailable');
        return context.services.tokens.validAccessToken(subject);
      },
    }),
  }),
});

builder.queryField('enterpriseConnection', (t) =>
  t.field({
    type: EnterpriseConnection,
    nullable: true,
    description: 'An Auth0 connection by name, with its admin token state; null when there is none. Needs read:connections.',
    authScopes: { scope: 'read:connections' },
    args: { name: t.arg.string({ required: true, description: 'The connection name.' }) },
    // One Management API read of the connection.
    extensions: upstreamCalls(),
    resolve: (_root, { name }, context) => context.services.connections.get(name),
  }),
);
