import type { UserRecord } from '../auth0/user-record.js';
import { BadUserInputError } from '../errors.js';
import { builder } from './builder.js';
import { readsUsers } from './cost.js';
import type { GatewayContext } from './context.js';
import { Identity, type IdentityParent } from './identity.js';

/** At most this many user ids in one request, across every `user`/`users` field and alias. */
export const MAX_USER_IDS = 100;

/**
 * The GraphQL type of an Auth0 user, loaded by id (the dataloader plugin): a field that resolves
 * to user ids gets the users. Every `me`, `user` and `users` of a request lands in one batch per
 * request, which the directory answers from its cache, one search, and per-id reads for what the
 * search missed; null where Auth0 knows no such user, an error for that id alone where the read
 * failed. The loader lives with the request's context and goes with it.
 */
export const User = builder.loadableObject('User', {
  description: 'An Auth0 user with the identities (primary first, then linked) they can sign in with.',
  // A null (no such user) is answered as null by the plugin; the type says what a user is.
  load: (ids: string[], context: GatewayContext) => context.services.users.loadMany(ids) as Promise<(UserRecord | Error)[]>,
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The Auth0 user id, e.g. `google-oauth2|1234`.' }),
    email: t.exposeString('email', { nullable: true, description: 'The email address on the Auth0 profile.' }),
    name: t.exposeString('name', { nullable: true, description: 'The display name on the Auth0 profile.' }),
    picture: t.exposeString('picture', { nullable: true, description: 'URL of the profile picture.' }),
    identities: t.field({
      type: [Identity],
      description: 'Every identity of the user: the primary one first, then the linked ones.',
      resolve: (user) => user.identities.map((identity): IdentityParent => ({ user, identity })),
    }),
  }),
});

builder.queryFields((t) => ({
  me: t.field({
    type: User,
    description: 'The calling user. Machine-to-machine callers have no user: FORBIDDEN.',
    authScopes: { person: true },
    extensions: readsUsers('caller'),
    resolve: async (_root, _args, context) => {
      const { sub } = context.caller;
      // A token proves the user existed when it was issued, so "missing" from the batch (perhaps a
      // remembered miss from before the user signed up) is checked once with an immediate read.
      const user = (await User.getDataloader(context).load(sub)) ?? (await context.services.users.loadFresh(sub));
      // A valid token for a user Auth0 no longer knows (deleted since it was issued).
      if (!user) throw new BadUserInputError('The calling user does not exist in the tenant any more.');
      return user;
    },
  }),
  user: t.field({
    type: User,
    nullable: true,
    description: 'Any user by Auth0 user id; null when there is none. Needs read:users.',
    authScopes: { scope: 'read:users' },
    args: { id: t.arg.id({ required: true, description: 'The Auth0 user id.' }) },
    extensions: readsUsers({ arg: 'id' }),
    resolve: (_root, { id }) => String(id),
  }),
  users: t.field({
    type: [User],
    nullable: { list: false, items: true },
    description: `Users by Auth0 user id, in the order given, null where there is none; at most ${MAX_USER_IDS} ids. Needs read:users.`,
    authScopes: { scope: 'read:users' },
    args: { ids: t.arg.idList({ required: true, description: `Auth0 user ids (at most ${MAX_USER_IDS}).` }) },
    extensions: readsUsers({ arg: 'ids' }),
    // More than MAX_USER_IDS ids in a request are refused before execution (plugins/use-upstream-budget.ts).
    // The ids; the plugin loads each one, so a failure for one id nulls that item alone.
    resolve: (_root, { ids }) => ids.map(String),
  }),
}));
