import { builder } from '../../graphql/builder.js';
import { upstreamCalls } from '../../graphql/cost.js';
import type { GatewayContext } from '../../graphql/context.js';
import { providerGet, type IdentityParent } from '../../graphql/identity.js';
import { connectionType, paginate } from '../../graphql/pagination.js';
import { defineProviderIdentity } from '../../graphql/provider-identity.js';
import { googleApi } from './api.js';

/** Identities of Auth0's `google-oauth2` strategy. */
export const GoogleIdentity = defineProviderIdentity({
  typeName: 'GoogleIdentity',
  strategies: ['google-oauth2'],
  description: 'A Google account linked through the google-oauth2 connection.',
  userField: { name: 'google', description: 'The linked Google identity; null when none is linked.' },
});

/**
 * Google's APIs as fields of GoogleIdentity: userinfo, Calendar events and Drive
 * files, each a typed GraphQL object; lists are Relay connections over Google's `pageToken`.
 */

interface GoogleUserinfo {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  picture?: string;
}

interface GoogleEventTime {
  dateTime?: string;
  date?: string;
}

interface GoogleEvent {
  id: string;
  summary?: string;
  status?: string;
  htmlLink?: string;
  start?: GoogleEventTime;
  end?: GoogleEventTime;
}

interface GoogleFile {
  id: string;
  name: string;
  mimeType?: string;
  modifiedTime?: string;
}

// Google's page-size maxima: Calendar's maxResults at most 2500, Drive's pageSize at most 1000.
const CALENDAR_MAX_RESULTS = 2500;
const DRIVE_MAX_PAGE_SIZE = 1000;
// Drive returns only kind,id,name,mimeType unless asked: ask for exactly what the type exposes.
const DRIVE_FIELDS = 'nextPageToken,files(id,name,mimeType,modifiedTime)';

const GoogleProfile = builder.objectRef<GoogleUserinfo>('GoogleProfile').implement({
  description: 'The Google account as OpenID Connect userinfo describes it.',
  fields: (t) => ({
    sub: t.exposeString('sub', { description: 'The stable Google account id.' }),
    email: t.string({ nullable: true, description: 'The account email (needs the email scope).', resolve: (p) => p.email ?? null }),
    emailVerified: t.boolean({ nullable: true, description: 'Whether Google verified the email.', resolve: (p) => p.email_verified ?? null }),
    name: t.string({ nullable: true, description: 'The display name (needs the profile scope).', resolve: (p) => p.name ?? null }),
    picture: t.string({ nullable: true, description: 'URL of the profile picture.', resolve: (p) => p.picture ?? null }),
  }),
});

const GoogleCalendarEvent = builder.objectRef<GoogleEvent>('GoogleCalendarEvent').implement({
  description: 'An event of the primary calendar (recurring events expanded into instances).',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The event id (an instance id for recurring events).' }),
    summary: t.string({ nullable: true, description: 'The title.', resolve: (e) => e.summary ?? null }),
    start: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When it starts; all-day events start at midnight UTC of their date.',
      resolve: (e) => eventTime(e.start),
    }),
    end: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When it ends (exclusive); all-day events end at midnight UTC after their last day.',
      resolve: (e) => eventTime(e.end),
    }),
    allDay: t.boolean({
      description: 'Whether it is an all-day event (Google gives a date without a time).',
      resolve: (e) => Boolean(e.start?.date && !e.start.dateTime),
    }),
    status: t.string({ nullable: true, description: 'confirmed, tentative or cancelled.', resolve: (e) => e.status ?? null }),
    htmlLink: t.string({ nullable: true, description: 'Link to the event in Google Calendar.', resolve: (e) => e.htmlLink ?? null }),
  }),
});

const GoogleDriveFile = builder.objectRef<GoogleFile>('GoogleDriveFile').implement({
  description: 'A file or folder in Google Drive.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The Drive file id.' }),
    name: t.exposeString('name', { description: 'The file name.' }),
    mimeType: t.string({ nullable: true, description: 'The MIME type; folders are application/vnd.google-apps.folder.', resolve: (f) => f.mimeType ?? null }),
    modifiedTime: t.field({ type: 'DateTime', nullable: true, description: 'When the file was last modified.', resolve: (f) => f.modifiedTime ?? null }),
  }),
});

const GoogleCalendarEventConnection = connectionType('GoogleCalendarEvent', GoogleCalendarEvent, 'calendar event');
const GoogleDriveFileConnection = connectionType('GoogleDriveFile', GoogleDriveFile, 'Drive file');

builder.objectFields(GoogleIdentity, (t) => ({
  profile: t.field({
    extensions: upstreamCalls(),
    type: GoogleProfile,
    nullable: true,
    description: 'The Google account profile (GET /oauth2/v3/userinfo).',
    resolve: async (parent, _args, context) => (await googleGet(context, parent, '/oauth2/v3/userinfo')) as GoogleUserinfo | null,
  }),
  calendarEvents: t.field({
    extensions: upstreamCalls(),
    type: GoogleCalendarEventConnection,
    nullable: true,
    description: 'Events of the primary calendar in start order, recurring events expanded (Calendar v3 events.list).',
    args: {
      first: t.arg.int({ defaultValue: 10, description: `How many events (at most ${CALENDAR_MAX_RESULTS}).` }),
      after: t.arg.string({ description: 'Continue after this cursor.' }),
      timeMin: t.arg({ type: 'DateTime', description: 'Only events that end after this instant.' }),
    },
    resolve: (parent, args, context) =>
      paginate('google.calendarEvents', args, CALENDAR_MAX_RESULTS, async (pageToken, size) => {
        // orderBy=startTime is only allowed with singleEvents=true (Google answers 400 otherwise).
        const query = new URLSearchParams({ singleEvents: 'true', orderBy: 'startTime', maxResults: String(size) });
        if (args.timeMin) query.set('timeMin', args.timeMin.toISOString());
        if (pageToken) query.set('pageToken', pageToken);
        const body = (await googleGet(context, parent, `/calendar/v3/calendars/primary/events?${query}`)) as {
          items?: GoogleEvent[];
          nextPageToken?: string;
        } | null;
        return { items: body?.items ?? [], next: body?.nextPageToken || undefined };
      }),
  }),
  driveFiles: t.field({
    extensions: upstreamCalls(),
    type: GoogleDriveFileConnection,
    nullable: true,
    description: "Files in the user's Drive (Drive v3 files.list), optionally filtered with Drive's query language.",
    args: {
      first: t.arg.int({ defaultValue: 10, description: `How many files (at most ${DRIVE_MAX_PAGE_SIZE}).` }),
      after: t.arg.string({ description: 'Continue after this cursor.' }),
      query: t.arg.string({ description: 'A Drive search query, e.g. "trashed = false and name contains \'plan\'".' }),
    },
    resolve: (parent, args, context) =>
      paginate('google.driveFiles', args, DRIVE_MAX_PAGE_SIZE, async (pageToken, size) => {
        const query = new URLSearchParams({ pageSize: String(size), fields: DRIVE_FIELDS });
        if (args.query) query.set('q', args.query);
        if (pageToken) query.set('pageToken', pageToken);
        const body = (await googleGet(context, parent, `/drive/v3/files?${query}`)) as { files?: GoogleFile[]; nextPageToken?: string } | null;
        return { items: body?.files ?? [], next: body?.nextPageToken || undefined };
      }),
  }),
}));

function googleGet(context: GatewayContext, parent: IdentityParent, path: string): Promise<unknown> {
  return providerGet(context, parent, googleApi, context.services.config.providers.google.apiUrl + path);
}

function eventTime(time: GoogleEventTime | undefined): string | null {
  if (time?.dateTime) return time.dateTime;
  return time?.date ? `${time.date}T00:00:00Z` : null;
}
