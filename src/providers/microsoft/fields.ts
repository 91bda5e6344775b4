import { ProviderPermissionDeniedError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import { upstreamCalls } from '../../graphql/cost.js';
import type { GatewayContext } from '../../graphql/context.js';
import { providerGet, type IdentityParent } from '../../graphql/identity.js';
import { connectionType, paginate, type ConnectionShape, type ProviderPage } from '../../graphql/pagination.js';
import { defineProviderIdentity } from '../../graphql/provider-identity.js';
import { graphInstant, microsoftApi, type GraphDateTimeTimeZone } from './api.js';
import { graphListUrl, readNextLink } from './paging.js';

/** Identities of Auth0's `waad` (Entra ID) and `windowslive` (personal Microsoft account) strategies. */
export const MicrosoftIdentity = defineProviderIdentity({
  typeName: 'MicrosoftIdentity',
  strategies: ['waad', 'windowslive'],
  description: 'A Microsoft account linked through a waad (Entra ID) or windowslive connection.',
  userField: { name: 'microsoft', description: 'The first linked Microsoft (waad or windowslive) identity; null when none is linked.' },
});

/**
 * Microsoft Graph as fields of MicrosoftIdentity: the signed-in user (/me), calendar events, mail
 * and the files at the root of OneDrive. Each call selects exactly the properties the type exposes;
 * lists are Relay connections over Graph's `@odata.nextLink` paging (providers/microsoft/paging.ts).
 * A token without the delegated permission a field needs fails that field alone with
 * PROVIDER_PERMISSION_DENIED naming the least-privilege permission.
 */

interface UserBody {
  id: string;
  displayName?: string | null;
  mail?: string | null;
  userPrincipalName?: string | null;
}

interface EventBody {
  id: string;
  subject?: string | null;
  start?: GraphDateTimeTimeZone | null;
  end?: GraphDateTimeTimeZone | null;
  webLink?: string | null;
}

interface MessageBody {
  id: string;
  subject?: string | null;
  from?: { emailAddress?: { address?: string | null; name?: string | null } | null } | null;
  receivedDateTime?: string | null;
  isRead?: boolean | null;
}

interface DriveItemBody {
  id: string;
  name: string;
  size?: number | null;
  lastModifiedDateTime?: string | null;
  webUrl?: string | null;
  folder?: { childCount?: number } | null;
}

/** Graph's collection envelope. */
interface CollectionBody<T> {
  value?: T[];
  '@odata.nextLink'?: unknown;
}

/** One Graph listing: its path under MICROSOFT_GRAPH_URL, what it selects and the permission it needs. */
interface Listing {
  field: string;
  path: string;
  select: readonly string[];
  permission: string;
}

// Graph allows up to 1000 messages a page (999 for some collections); the gateway pages in at most 100.
const MAX_PAGE_SIZE = 100;

const PROFILE = { path: '/me', select: ['id', 'displayName', 'mail', 'userPrincipalName'], permission: 'User.Read' } as const;
const EVENTS: Listing = {
  field: 'microsoft.events',
  path: '/me/events',
  select: ['id', 'subject', 'start', 'end', 'webLink'],
  permission: 'Calendars.ReadBasic',
};
const MESSAGES: Listing = {
  field: 'microsoft.messages',
  path: '/me/messages',
  select: ['id', 'subject', 'from', 'receivedDateTime', 'isRead'],
  permission: 'Mail.ReadBasic',
};
// `folder` is selected only to tell folders from files.
const DRIVE_ITEMS: Listing = {
  field: 'microsoft.driveItems',
  path: '/me/drive/root/children',
  select: ['id', 'name', 'size', 'lastModifiedDateTime', 'webUrl', 'folder'],
  permission: 'Files.Read',
};

const MicrosoftProfile = builder.objectRef<UserBody>('MicrosoftProfile').implement({
  description: 'The signed-in Microsoft user (GET /me).',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The user object id.' }),
    displayName: t.string({ nullable: true, description: 'The name shown in the address book.', resolve: (u) => u.displayName ?? null }),
    mail: t.string({ nullable: true, description: 'The primary SMTP address; null for accounts without a mailbox.', resolve: (u) => u.mail ?? null }),
    userPrincipalName: t.string({ nullable: true, description: 'The sign-in name, e.g. adele@contoso.com.', resolve: (u) => u.userPrincipalName ?? null }),
  }),
});

const MicrosoftEvent = builder.objectRef<EventBody>('MicrosoftEvent').implement({
  description: "An event of the user's default calendar.",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The event id.' }),
    subject: t.string({ nullable: true, description: 'The title.', resolve: (e) => e.subject ?? null }),
    start: t.field({ type: 'DateTime', nullable: true, description: 'When it starts.', resolve: (e) => graphInstant(e.start) }),
    end: t.field({ type: 'DateTime', nullable: true, description: 'When it ends.', resolve: (e) => graphInstant(e.end) }),
    webLink: t.string({ nullable: true, description: 'Link to the event in Outlook on the web.', resolve: (e) => e.webLink ?? null }),
  }),
});

const MicrosoftMessage = builder.objectRef<MessageBody>('MicrosoftMessage').implement({
  description: "A message of the user's mailbox.",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The message id.' }),
    subject: t.string({ nullable: true, description: 'The subject line.', resolve: (m) => m.subject ?? null }),
    from: t.string({ nullable: true, description: "The sender's email address.", resolve: (m) => m.from?.emailAddress?.address ?? null }),
    receivedDateTime: t.field({ type: 'DateTime', nullable: true, description: 'When it was received.', resolve: (m) => m.receivedDateTime ?? null }),
    isRead: t.boolean({ nullable: true, description: 'Whether it has been read.', resolve: (m) => m.isRead ?? null }),
  }),
});

const MicrosoftDriveItem = builder.objectRef<DriveItemBody>('MicrosoftDriveItem').implement({
  description: "A file or folder at the root of the user's OneDrive.",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The drive item id.' }),
    name: t.exposeString('name', { description: 'The file or folder name.' }),
    size: t.float({ nullable: true, description: 'Size in bytes (a folder: of everything in it).', resolve: (i) => i.size ?? null }),
    lastModifiedDateTime: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When it was last modified.',
      resolve: (i) => i.lastModifiedDateTime ?? null,
    }),
    webUrl: t.string({ nullable: true, description: 'Link to it in OneDrive on the web.', resolve: (i) => i.webUrl ?? null }),
    isFolder: t.boolean({ description: 'Whether it is a folder.', resolve: (i) => Boolean(i.folder) }),
  }),
});

const MicrosoftEventConnection = connectionType('MicrosoftEvent', MicrosoftEvent, 'calendar event');
const MicrosoftMessageConnection = connectionType('MicrosoftMessage', MicrosoftMessage, 'mail message');
const MicrosoftDriveItemConnection = connectionType('MicrosoftDriveItem', MicrosoftDriveItem, 'OneDrive item');

builder.objectFields(MicrosoftIdentity, (t) => ({
  profile: t.field({
    extensions: upstreamCalls(),
    type: MicrosoftProfile,
    nullable: true,
    description: 'The signed-in user (GET /me); needs the User.Read permission.',
    resolve: async (parent, _args, context) => {
      const url = graphUrl(context) + `${PROFILE.path}?$select=${encodeURIComponent(PROFILE.select.join(','))}`;
      return (await graphGet(context, parent, url, PROFILE.permission)) as UserBody | null;
    },
  }),
  events: t.field({
    extensions: upstreamCalls(),
    type: MicrosoftEventConnection,
    nullable: true,
    description: "Events of the user's default calendar, times in UTC (GET /me/events); needs Calendars.ReadBasic.",
    args: {
      first: t.arg.int({ defaultValue: 10, description: `How many events (at most ${MAX_PAGE_SIZE}).` }),
      after: t.arg.string({ description: 'Continue after this cursor.' }),
    },
    resolve: (parent, args, context) => graphListing<EventBody>(context, parent, EVENTS, args),
  }),
  messages: t.field({
    extensions: upstreamCalls(),
    type: MicrosoftMessageConnection,
    nullable: true,
    description: "Messages of the user's mailbox, newest first (GET /me/messages); needs Mail.ReadBasic.",
    args: {
      first: t.arg.int({ defaultValue: 10, description: `How many messages (at most ${MAX_PAGE_SIZE}).` }),
      after: t.arg.string({ description: 'Continue after this cursor.' }),
    },
    resolve: (parent, args, context) => graphListing<MessageBody>(context, parent, MESSAGES, args),
  }),
  driveItems: t.field({
    extensions: upstreamCalls(),
    type: MicrosoftDriveItemConnection,
    nullable: true,
    description: "Files and folders at the root of the user's OneDrive (GET /me/drive/root/children); needs Files.Read.",
    args: {
      first: t.arg.int({ defaultValue: 10, description: `How many drive items (at most ${MAX_PAGE_SIZE}).` }),
      after: t.arg.string({ description: 'Continue after this cursor.' }),
    },
    resolve: (parent, args, context) => graphListing<DriveItemBody>(context, parent, DRIVE_ITEMS, args),
  }),
}));

function graphUrl(context: GatewayContext): string {
  return context.services.config.providers.microsoft.graphUrl;
}

/** GETs `url` at Graph as the identity; a missing delegated permission is reported as `permission`. */
async function graphGet(context: GatewayContext, parent: IdentityParent, url: string, permission: string): Promise<unknown> {
  try {
    return await providerGet(context, parent, microsoftApi, url);
  } catch (error) {
    if (error instanceof ProviderPermissionDeniedError) throw error.requiring(permission);
    throw error;
  }
}

/** Thrown by a page fetch when Graph says the listing does not exist (404 on its first page). */
class ListingNotFound extends Error {}

/** A listing as a Relay connection; null when Graph answers 404 for its first page (e.g. no OneDrive). */
async function graphListing<T>(
  context: GatewayContext,
  parent: IdentityParent,
  listing: Listing,
  args: { first?: number | null; after?: string | null },
): Promise<ConnectionShape<T> | null> {
  try {
    return await paginate(listing.field, args, MAX_PAGE_SIZE, (token, size) => graphPage<T>(context, parent, listing, token, size));
  } catch (error) {
    if (error instanceof ListingNotFound) return null;
    throw error;
  }
}

// Pages whose refused nextLink was already logged: a page deduplicated within a request is one event.
const reportedPages = new WeakSet<object>();

/**
 * One page of a listing. The next page's token comes from `@odata.nextLink` only when that link lies
 * under MICROSOFT_GRAPH_URL; any other link ends the listing and is logged once, without its query
 * (a skip token may identify the user's data).
 */
async function graphPage<T>(
  context: GatewayContext,
  parent: IdentityParent,
  listing: Listing,
  token: string | undefined,
  size: number,
): Promise<ProviderPage<T>> {
  const url = graphListUrl(graphUrl(context), listing.path, listing.select, size, token);
  const body = (await graphGet(context, parent, url, listing.permission)) as CollectionBody<T> | null;
  if (!body) {
    // A later page that is gone (the listing shrank) is simply the end.
    if (token !== undefined) return { items: [] };
    throw new ListingNotFound();
  }
  const next = readNextLink(body['@odata.nextLink'], graphUrl(context));
  if (next.kind === 'refused' && !reportedPages.has(body)) {
    reportedPages.add(body);
    context.services.logger.warn(
      { event: 'microsoft_next_link_refused', field: listing.field, connection: parent.identity.connection, nextLink: next.where, reason: next.reason },
      'Microsoft Graph sent a nextLink the gateway does not follow; the listing ends here',
    );
  }
  return { items: Array.isArray(body.value) ? body.value : [], next: next.kind === 'next' ? next.token : undefined };
}
