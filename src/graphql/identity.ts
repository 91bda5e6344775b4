import { createContextCache, type ObjectRef } from '@pothos/core';
import DataLoader from 'dataloader';
import type { IdentityRecord, UserRecord } from '../auth0/user-record.js';
import type { ProviderApiDefinition } from '../providers/api.js';
import type { TokenSubject } from '../tokens/broker.js';
import { statusFromAuth0, type TokenStatus as TokenStatusShape } from '../tokens/status.js';
import { identitySubject, vaultSubjectKey } from '../tokens/subjects.js';
import { vaultSubjectFor } from '../tokens/token-vault.js';
import { builder, type GatewaySchemaTypes } from './builder.js';
import type { GatewayContext } from './context.js';

/** An identity together with the user it belongs to (resolvers of provider fields need both). */
export interface IdentityParent {
  user: UserRecord;
  identity: IdentityRecord;
}

/**
 * Users read straight from GET /users/{id} for one request: immediately consistent and with token
 * presence, for the fields that need more than a cached search result holds.
 */
export const freshUsersLoader = createContextCache(
  (context: GatewayContext) =>
    new DataLoader<string, UserRecord | null>((ids) =>
      Promise.all(ids.map((id) => context.services.users.loadFresh(id).catch((error: unknown) => error as Error))),
    ),
);

/** The GraphQL enum `TokenState`: VALID, EXPIRED, REAUTHENTICATION_REQUIRED, UNKNOWN. */
export const TokenState = builder.enumType('TokenState', {
  description: 'What the gateway knows about an identity provider token.',
  values: {
    VALID: { description: 'Known expiry in the future.' },
    EXPIRED: { description: 'Expired; the next use renews it.' },
    REAUTHENTICATION_REQUIRED: { description: 'Dead: the user must sign in through that connection again.' },
    UNKNOWN: { description: 'No expiry known (or no provider token at all).' },
  } as const,
});

/** Status of a provider token; never contains a secret. */
export const TokenStatus = builder.objectRef<TokenStatusShape>('TokenStatus').implement({
  description: 'The state of an identity provider token, without the token itself.',
  fields: (t) => ({
    expiresAt: t.field({ type: 'DateTime', nullable: true, description: 'When the access token expires; null when unknown.', resolve: (s) => s.expiresAt }),
    hasRefreshToken: t.exposeBoolean('hasRefreshToken', { description: 'Whether a refresh token is held, so an expired access token can be renewed.' }),
    state: t.field({ type: TokenState, description: 'VALID, EXPIRED, REAUTHENTICATION_REQUIRED or UNKNOWN.', resolve: (s) => s.state }),
  }),
});

// Which GraphQL type serves which Auth0 strategy; provider folders register themselves.
const typesByStrategy = new Map<string, ObjectRef<GatewaySchemaTypes, IdentityParent>>();

/** Makes identities of `strategies` resolve to `type` (called once per provider folder). */
export function registerIdentityType(strategies: readonly string[], type: ObjectRef<GatewaySchemaTypes, IdentityParent>): void {
  for (const strategy of strategies) typesByStrategy.set(strategy, type);
}

/** The interface every identity type implements (provider, connection, userId, isSocial, token, accessToken). */
export const Identity = builder.interfaceRef<IdentityParent>('Identity').implement({
  description: 'A way the user signs in: an Auth0 connection and the account at its provider.',
  resolveType: ({ identity }): string => (typesByStrategy.get(identity.provider) ?? GenericIdentity).name,
  fields: (t) => ({
    provider: t.string({ description: 'The Auth0 strategy: google-oauth2, facebook, bitbucket, oauth2, waad, …', resolve: (p) => p.identity.provider }),
    connection: t.string({ description: 'The Auth0 connection name.', resolve: (p) => p.identity.connection }),
    userId: t.string({ description: 'The user id at the provider; always a string, even where Auth0 sends a number.', resolve: (p) => p.identity.userId }),
    isSocial: t.boolean({ description: 'Whether the connection is a social one.', resolve: (p) => p.identity.isSocial }),
    token: t.field({
      type: TokenStatus,
      description: 'The state of the provider access token; never the token itself.',
      resolve: (parent, _args, context) => tokenStatus(parent, context),
    }),
    accessToken: t.string({
      nullable: true,
      description:
        'A currently valid provider access token, renewed when needed; null when the identity has no provider token. ' +
        'Needs read:user_idp_tokens. A token that can no longer be renewed is a REAUTHENTICATION_REQUIRED error naming the connection.',
      authScopes: { scope: 'read:user_idp_tokens' },
      resolve: (parent, _args, context) => {
        const subject = subjectOf(parent, context);
        // Auth0 said (GET /users/{id}) this identity holds no token at all: nothing to read again.
        // Not for Token Vault identities, whose tokens Auth0 never shows in identities[].
        const known = parent.identity.tokens;
        if (!subject.vault && known && !known.hasAccessToken && !known.hasRefreshToken) return null;
        return context.services.tokens.validAccessToken(subject);
      },
    }),
  }),
});

/** Identities of any strategy without a provider folder of its own: only the Identity fields. */
export const GenericIdentity = builder.objectRef<IdentityParent>('GenericIdentity').implement({
  description: 'An identity of a strategy the gateway has no provider API for (auth0, samlp, …).',
  interfaces: [Identity],
});

/**
 * GETs `url` at a provider's API as the identity: deduplicated per request, counted against the
 * request's upstream budget, the token renewed once if refused (providers/api.ts).
 */
export function providerGet(context: GatewayContext, parent: IdentityParent, api: ProviderApiDefinition, url: string): Promise<unknown> {
  return providerCalls(context).load({ api, subject: subjectOf(parent, context), url });
}

interface ProviderCall {
  api: ProviderApiDefinition;
  subject: TokenSubject;
  url: string;
}

/** A request's provider calls: the same GET for the same identity at the same provider is sent once. */
const providerCalls = createContextCache(
  (context: GatewayContext) =>
    new DataLoader<ProviderCall, unknown, string>(
      (calls) =>
        Promise.all(
          calls.map(({ api, subject, url }) =>
            context.services
              .providerApi(api)
              .call(context, subject, url)
              .catch((error: unknown) => error as Error),
          ),
        ),
      { cacheKeyFn: ({ api, subject, url }) => `${api.provider}\u0000${subject.key}\u0000${url}` },
    ),
);

/**
 * The token subject of an identity, for the broker. The caller's own identities on
 * TOKEN_VAULT_CONNECTIONS get their tokens from Auth0 Token Vault's exchange (Auth0 keeps them out
 * of identities[]); any other caller (a partner reading `user(id)`) reads identities[].
 */
export function subjectOf({ user, identity }: IdentityParent, context: GatewayContext): TokenSubject {
  const ref = { userId: user.id, provider: identity.provider, connection: identity.connection, identityUserId: identity.userId };
  const subject = identitySubject(context.services.users, ref);
  const caller = { sub: context.caller.sub, accessToken: context.callerAccessToken };
  const vault = vaultSubjectFor(context.services.config.tokenVault, caller, ref);
  return vault ? { ...subject, key: vaultSubjectKey(ref), vault } : subject;
}

/**
 * Token status: what the broker knows (our own refreshes, dead markers), else what Auth0 holds.
 * A record from a search may not say whether tokens exist, so only then is the user read again
 * with GET /users/{id}, once per request and user.
 */
async function tokenStatus(parent: IdentityParent, context: GatewayContext): Promise<TokenStatusShape> {
  const known = await context.services.tokens.status(subjectOf(parent, context));
  if (known) return known;
  const { user, identity } = parent;
  let record = user;
  let current = identity;
  if (!current.tokens) {
    const fresh = await freshUsersLoader(context).load(user.id);
    const match = fresh?.identities.find((i) => i.provider === identity.provider && i.userId === identity.userId);
    if (fresh && match) {
      record = fresh;
      current = match;
    }
  }
  return statusFromAuth0(current, current.tokens ?? { hasAccessToken: false, hasRefreshToken: false }, record.tokensStoredAt);
}
