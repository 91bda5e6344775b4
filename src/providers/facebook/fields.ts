import { builder } from '../../graphql/builder.js';
import { upstreamCalls } from '../../graphql/cost.js';
import type { GatewayContext } from '../../graphql/context.js';
import { providerGet, type IdentityParent } from '../../graphql/identity.js';
import { connectionType, paginate } from '../../graphql/pagination.js';
import { defineProviderIdentity } from '../../graphql/provider-identity.js';
import { facebookApi } from './api.js';

/** Identities of Auth0's `facebook` strategy. */
export const FacebookIdentity = defineProviderIdentity({
  typeName: 'FacebookIdentity',
  strategies: ['facebook'],
  description: 'A Facebook account linked through the facebook connection.',
  userField: { name: 'facebook', description: 'The linked Facebook identity; null when none is linked.' },
});

/**
 * The Graph API as fields of FacebookIdentity: the user node (`/me` answers only id and name unless
 * fields are asked for) and the friends edge, a Relay connection over Facebook's `after` cursors
 * (no `next` on the last page; docs/upstream-apis.md#facebook).
 */

interface FacebookUser {
  id: string;
  name?: string;
  email?: string;
  picture?: { data?: { url?: string } };
}

interface FacebookFriendNode {
  id: string;
  name?: string;
}

interface FacebookEdgePage<T> {
  data?: T[];
  paging?: { cursors?: { before?: string; after?: string }; next?: string };
  summary?: { total_count?: number };
}

// Facebook documents no hard maximum for `limit` on edges; larger pages get truncated or time
// out, so 100 is the page size we trust.
const FRIENDS_MAX_LIMIT = 100;
// Exactly what FacebookProfile exposes; `/me` returns only id,name unless asked (B.2).
const PROFILE_FIELDS = 'id,name,email,picture';

const FacebookProfile = builder.objectRef<FacebookUser>('FacebookProfile').implement({
  description: 'The Facebook user as GET /me describes it.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The app-scoped user id (differs between Facebook apps).' }),
    name: t.string({ nullable: true, description: 'The display name.', resolve: (u) => u.name ?? null }),
    email: t.string({ nullable: true, description: 'The primary email; null when not granted or the account has none.', resolve: (u) => u.email ?? null }),
    pictureUrl: t.string({
      nullable: true,
      description: 'URL of the profile picture (50×50); it expires after a while.',
      resolve: (u) => u.picture?.data?.url ?? null,
    }),
  }),
});

const FacebookFriend = builder.objectRef<FacebookFriendNode>('FacebookFriend').implement({
  description: 'A friend of the user who also uses this Facebook app.',
  fields: (t) => ({
    id: t.exposeID('id', { description: "The friend's app-scoped user id." }),
    name: t.string({ nullable: true, description: "The friend's display name.", resolve: (f) => f.name ?? null }),
  }),
});

const FacebookFriendConnection = connectionType('FacebookFriend', FacebookFriend, 'Facebook friend');

builder.objectFields(FacebookIdentity, (t) => ({
  profile: t.field({
    extensions: upstreamCalls(),
    type: FacebookProfile,
    nullable: true,
    description: 'The Facebook profile (GET /me?fields=id,name,email,picture).',
    resolve: async (parent, _args, context) => (await graphGet(context, parent, `/me?fields=${PROFILE_FIELDS}`)) as FacebookUser | null,
  }),
  friends: t.field({
    extensions: upstreamCalls(),
    type: FacebookFriendConnection,
    nullable: true,
    description: 'Friends who also use this app, in Facebook order (GET /me/friends; needs the user_friends permission).',
    args: {
      first: t.arg.int({ defaultValue: 25, description: `How many friends (at most ${FRIENDS_MAX_LIMIT}).` }),
      after: t.arg.string({ description: 'Continue after this cursor.' }),
    },
    resolve: (parent, args, context) =>
      paginate('facebook.friends', args, FRIENDS_MAX_LIMIT, async (cursor, size) => {
        const query = new URLSearchParams({ limit: String(size) });
        if (cursor) query.set('after', cursor);
        const body = (await graphGet(context, parent, `/me/friends?${query}`)) as FacebookEdgePage<FacebookFriendNode> | null;
        // `cursors.after` is present on the last page too; only `next` says that more follow (B.3).
        const next = body?.paging?.next ? body.paging.cursors?.after : undefined;
        return { items: body?.data ?? [], next: next || undefined };
      }),
  }),
  friendCount: t.int({
    extensions: upstreamCalls(),
    nullable: true,
    description: "The user's total number of Facebook friends, including those who do not use this app (summary.total_count of GET /me/friends).",
    resolve: async (parent, _args, context) => {
      // limit=1 rather than 0: the smallest page every Graph version accepts; only the summary is read.
      const body = (await graphGet(context, parent, '/me/friends?limit=1&summary=total_count')) as FacebookEdgePage<FacebookFriendNode> | null;
      const total = body?.summary?.total_count;
      return typeof total === 'number' ? total : null;
    },
  }),
}));

function graphGet(context: GatewayContext, parent: IdentityParent, path: string): Promise<unknown> {
  return providerGet(context, parent, facebookApi, context.services.config.providers.facebook.graphUrl + path);
}
