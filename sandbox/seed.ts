import { createHash } from 'node:crypto';
import type { FakeBitbucket, BitbucketRepository } from './bitbucket.js';
import type { FakeFacebook } from './facebook.js';
import type { FakeGitHub, GitHubRepository } from './github.js';
import type { FakeGoogle, GoogleEvent, GoogleFile } from './google.js';
import type { FakeMicrosoft, GraphDriveItem, GraphEvent, GraphMessage } from './microsoft.js';
import type { FakeOAuth2 } from './oauth2.js';
import type { IssuedTokens } from './provider-tokens.js';
import type { FakeTenant, RawConnection, RawIdentity } from './tenant.js';

/**
 * Seed data for the sandbox: seven Auth0 users covering the identity shapes the gateway must handle
 * (a primary Google with three linked providers, a numeric GitHub id with an expired linked Google
 * token and a linked Entra ID (waad) account, a token-less database user, Facebook-only and Bitbucket-only users, and two users whose
 * sign-in is dead at the provider, so REAUTHENTICATION_REQUIRED can be seen), the connections
 * holding the provider app credentials, and provider-side data big enough to page through.
 */

/** Auth0 user ids of the seeded users. */
export const SEED_USERS = {
  ada: 'google-oauth2|111199914890750704174',
  grace: 'github|1234567',
  linus: 'auth0|5457edea1b8f22891a000004',
  margaret: 'facebook|10158000000000001',
  alan: 'bitbucket|{a1b2c3d4-0000-0000-0000-000000000000}',
  /**
   * Katherine: her Google access token expired and Google answers `invalid_grant` to its refresh
   * token (she revoked the app's access), so `google` fields are REAUTHENTICATION_REQUIRED naming
   * `google-oauth2`; her linked Facebook still works.
   */
  revokedGoogle: 'google-oauth2|104729384756102938475',
  /**
   * Hedy: Facebook answers error code 190 (subcode 460, password changed) for her token, so
   * `facebook` fields are REAUTHENTICATION_REQUIRED naming `facebook`; her linked Google still works.
   */
  deadFacebook: 'facebook|10159000000000002',
} as const;

/** Provider-side account ids of the seeded users, for `expireAccessTokens`/`revokeRefreshTokens` in tests. */
export const SEED_ACCOUNTS = {
  ada: { google: '111199914890750704174', facebook: '10157106986155798', bitbucket: '{e4a4ef88-1b26-4a49-a4c6-6a5e5b6d9c5e}', oauth2: 'abc-123' },
  grace: { github: 1234567, google: '110169484474386276334', microsoft: '5f2c9a7e-3b1d-4e8a-9c6f-0d4b8e2a7c31' },
  linus: {},
  margaret: { facebook: '10158000000000001' },
  alan: { bitbucket: '{a1b2c3d4-0000-0000-0000-000000000000}' },
  revokedGoogle: { google: '104729384756102938475', facebook: '10158000000000003' },
  deadFacebook: { facebook: '10159000000000002', google: '117364829105738291046' },
} as const;

/** The running fakes the seed writes into. */
export interface SeedParts {
  tenant: FakeTenant;
  google: FakeGoogle;
  facebook: FakeFacebook;
  bitbucket: FakeBitbucket;
  oauth2: FakeOAuth2;
  github: FakeGitHub;
  microsoft: FakeMicrosoft;
}

/** What the seed created: ids, provider account ids and every provider token it put into Auth0. */
export interface SeededUsers {
  ids: typeof SEED_USERS;
  accounts: typeof SEED_ACCOUNTS;
  tokens: {
    ada: { google: IssuedTokens; facebook: IssuedTokens; bitbucket: IssuedTokens; oauth2: IssuedTokens };
    /** Grace's Google and Microsoft access tokens are already expired (their refresh tokens work); GitHub's never expires. */
    grace: { google: IssuedTokens; github: { access_token: string }; microsoft: IssuedTokens };
    margaret: { facebook: IssuedTokens };
    alan: { bitbucket: IssuedTokens };
    /** The Google access token is expired and its refresh token revoked at Google; Facebook works. */
    revokedGoogle: { google: IssuedTokens; facebook: IssuedTokens };
    /** The Facebook token is invalidated at Facebook (code 190, subcode 460); Google works. */
    deadFacebook: { facebook: IssuedTokens; google: IssuedTokens };
  };
}

const DAY = 86_400_000;
const digest = (text: string): string => createHash('sha256').update(text).digest('hex');
const braced = (text: string): string => {
  const h = digest(text);
  return `{${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}}`;
};

/** RFC 3339 with an explicit offset, as Calendar prints times in the event's zone. */
function rfc3339(ms: number, offsetMinutes = 0): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 19);
  if (offsetMinutes === 0) return `${local}Z`;
  const abs = Math.abs(offsetMinutes);
  return `${local}${offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Calendar events around today (so a `timeMin=now` listing shows some), one all-day and one in Berlin time. */
function calendarEvents(email: string, today: number): GoogleEvent[] {
  const plan: [string, number, number, number][] = [
    // summary, day offset, start hour (UTC), minutes
    ['Design review', -2, 14, 60],
    ['Team standup', -1, 9, 15],
    ['1:1 with Charles', 0, 11, 30],
    ['Lunch with Mary', 1, 12, 60],
    ['Team standup', 2, 9, 15],
    ['Analytical Engine sync', 3, 15, 45],
    ['Dentist', 4, 8, 30],
    ['Quarterly planning', 6, 13, 120],
    ['Team standup', 7, 9, 15],
    ['Paper reading group', 9, 16, 60],
    ['Release retro', 12, 10, 50],
  ];
  const events = plan.map(([summary, day, hour, minutes], i): GoogleEvent => {
    const start = today + day * DAY + hour * 3_600_000;
    const berlin = summary === 'Analytical Engine sync';
    const offset = berlin ? 120 : 0;
    const zone = berlin ? 'Europe/Berlin' : 'Europe/London';
    return baseEvent(email, i, summary, today, {
      start: { dateTime: rfc3339(start, offset), timeZone: zone },
      end: { dateTime: rfc3339(start + minutes * 60_000, offset), timeZone: zone },
    });
  });
  const holiday = new Date(today + 5 * DAY).toISOString().slice(0, 10);
  const after = new Date(today + 6 * DAY).toISOString().slice(0, 10);
  events.splice(7, 0, baseEvent(email, 99, 'Holiday', today, { start: { date: holiday }, end: { date: after } }));
  return events;
}

/** The fields every stored event carries (a Calendar v3 event item). */
function baseEvent(email: string, n: number, summary: string, today: number, when: Pick<GoogleEvent, 'start' | 'end'>): GoogleEvent {
  const id = `sbx${digest(`${email}${n}`).slice(0, 23)}`;
  const stamp = new Date(today - 10 * DAY + n * 3_600_000).toISOString();
  return {
    kind: 'calendar#event',
    etag: `"33923879348${String(n).padStart(5, '0')}"`,
    id,
    status: 'confirmed',
    htmlLink: `https://www.google.com/calendar/event?eid=${Buffer.from(`${id} ${email}`).toString('base64url')}`,
    created: stamp,
    updated: stamp,
    summary,
    creator: { email, self: true },
    organizer: { email, self: true },
    ...when,
    iCalUID: `${id}@google.com`,
    sequence: 0,
    eventType: 'default',
  };
}

/** Drive files: Docs editors files, uploads, one folder and one trashed file. */
function driveFiles(today: number): GoogleFile[] {
  const folder = 'application/vnd.google-apps.folder';
  const list: [string, string, boolean?][] = [
    ['Projects', folder],
    ['Q3 plan', 'application/vnd.google-apps.document'],
    ['Budget 2026', 'application/vnd.google-apps.spreadsheet'],
    ['Notes on the Analytical Engine', 'application/vnd.google-apps.document'],
    ['Bernoulli numbers.pdf', 'application/pdf'],
    ['Team offsite', 'application/vnd.google-apps.presentation'],
    ['engine-diagram.png', 'image/png'],
    ['Reading list', 'application/vnd.google-apps.document'],
    ['Expenses August', 'application/vnd.google-apps.spreadsheet'],
    ['portrait.jpg', 'image/jpeg'],
    ['Letters to Babbage', 'application/vnd.google-apps.document'],
    ['loom-patterns.csv', 'text/csv'],
    ['Old draft', 'application/vnd.google-apps.document', true],
    ['Meeting notes', 'application/vnd.google-apps.document'],
    ['Poetical science.txt', 'text/plain'],
  ];
  const folderId = `1${Buffer.from(digest('Projects'), 'hex').toString('base64url').slice(0, 32)}`;
  return list.map(([name, mimeType, trashed], i) => {
    const id = i === 0 ? folderId : `1${Buffer.from(digest(name), 'hex').toString('base64url').slice(0, 32)}`;
    const modifiedTime = new Date(today - i * DAY * 1.5 + 37_123).toISOString();
    return {
      kind: 'drive#file',
      id,
      name,
      mimeType,
      modifiedTime,
      createdTime: modifiedTime,
      trashed: trashed ?? false,
      parents: i > 0 && i % 4 === 0 ? [folderId] : ['0AAsbxRootFolderUk9PVA'],
    };
  });
}

/**
 * Grace's Entra ID account at acme-azure: twelve calendar events, fifteen messages and twelve
 * OneDrive items (three folders), enough to page with the default page size of ten.
 */
function microsoftAccount(id: string, today: number) {
  const web = 'https://outlook.office365.com/owa/?itemid=';
  const events = Array.from({ length: 12 }, (_, i): GraphEvent => {
    const start = today + (i - 3) * DAY + (9 + (i % 6)) * 3_600_000;
    const eventId = `AAMkAGI2TG93AAA=${digest(`event${i}`).slice(0, 20)}`;
    return {
      id: eventId,
      subject: ['COBOL committee', 'Compiler review', 'Navy briefing', 'Team standup'][i % 4]!,
      start: new Date(start).toISOString(),
      end: new Date(start + (30 + 15 * (i % 3)) * 60_000).toISOString(),
      webLink: `${web}${encodeURIComponent(eventId)}&exvsurl=1&path=/calendar/item`,
      bodyPreview: '',
      isAllDay: false,
      organizer: { emailAddress: { name: 'Grace Hopper', address: 'grace@acme.example' } },
    };
  });
  const senders = PEOPLE.slice(0, 15);
  const messages = senders.map((name, i): GraphMessage => {
    const address = `${name.split(' ')[0]!.toLowerCase()}@acme.example`;
    return {
      id: `AAMkAGI2THVSAAA=${digest(`message${i}`).slice(0, 20)}`,
      subject: `Re: ${['nanoseconds', 'the first bug', 'FLOW-MATIC', 'UNIVAC schedule', 'A-0 compiler'][i % 5]}`,
      receivedDateTime: new Date(today - i * 5 * 3_600_000 + 60_000).toISOString().replace('.000Z', 'Z'),
      isRead: i % 3 === 0,
      bodyPreview: 'See the notes attached.',
      hasAttachments: false,
      importance: 'normal',
      from: { emailAddress: { name, address } },
      sender: { emailAddress: { name, address } },
      toRecipients: [{ emailAddress: { name: 'Grace Hopper', address: 'grace@acme.example' } }],
    };
  });
  const names = [
    'Documents',
    'Pictures',
    'Talks',
    'nanosecond.pdf',
    'COBOL-60.docx',
    'bug-log-1947.jpg',
    'Budget.xlsx',
    'flow-matic.txt',
    'lecture.pptx',
    'notes.md',
    'univac.png',
    'readme.txt',
  ];
  const driveItems = names.map((name, i): GraphDriveItem => {
    const itemId = `01BYE5RZ${digest(name).slice(0, 26).toUpperCase()}`;
    const kind = i < 3 ? { folder: { childCount: 4 - i } } : { file: { mimeType: 'application/octet-stream' } };
    return {
      id: itemId,
      name,
      size: 1024 * (i + 1) * 37,
      lastModifiedDateTime: new Date(today - i * DAY + 42_000).toISOString().replace('.000Z', 'Z'),
      webUrl: `https://acme-my.sharepoint.com/personal/grace_acme_example/Documents/${encodeURIComponent(name)}`,
      createdDateTime: new Date(today - 400 * DAY).toISOString(),
      ...kind,
    };
  });
  return {
    id,
    displayName: 'Grace Hopper',
    mail: 'grace@acme.example',
    userPrincipalName: 'grace@acme.onmicrosoft.com',
    givenName: 'Grace',
    surname: 'Hopper',
    jobTitle: 'Rear Admiral',
    events,
    messages,
    driveItems,
  };
}

/** Names for friend lists and repositories. */
const PEOPLE = [
  'Grace Hopper',
  'Alan Turing',
  'Margaret Hamilton',
  'Charles Babbage',
  'Mary Somerville',
  'Edsger Dijkstra',
  'Barbara Liskov',
  'Donald Knuth',
  'Frances Allen',
  'John McCarthy',
  'Radia Perlman',
  'Tim Berners-Lee',
  'Katherine Johnson',
  'Dennis Ritchie',
  'Ken Thompson',
  'Hedy Lamarr',
  'Claude Shannon',
  'Adele Goldberg',
  'Niklaus Wirth',
  'Shafi Goldwasser',
  'Leslie Lamport',
  'Jean Bartik',
  'Tony Hoare',
  'Sophie Wilson',
  'Vint Cerf',
  'Annie Easley',
  'Robin Milner',
  'Evelyn Boyd Granville',
  'Butler Lampson',
  'Kathleen Booth',
];

/** Facebook friends with 17-digit app-scoped ids. */
function friends(count: number, salt: string): { id: string; name: string }[] {
  return PEOPLE.slice(0, count).map((name) => ({
    id: `1015${String(Number.parseInt(digest(salt + name).slice(0, 12), 16))
      .padStart(13, '0')
      .slice(0, 13)}`,
    name,
  }));
}

/** A full repository object as Bitbucket's `/2.0/repositories/{workspace}` returns it. */
function repository(
  workspace: { uuid: string; slug: string; name: string },
  slug: string,
  language: string,
  isPrivate: boolean,
  updated: number,
): BitbucketRepository {
  const uuid = braced(`${workspace.slug}/${slug}`);
  const api = `https://api.bitbucket.org/2.0/repositories/${workspace.slug}/${slug}`;
  const stamp = (ms: number): string => `${new Date(ms).toISOString().slice(0, 23)}123+00:00`;
  return {
    type: 'repository',
    uuid,
    full_name: `${workspace.slug}/${slug}`,
    name: slug,
    slug,
    is_private: isPrivate,
    scm: 'git',
    description: '',
    language,
    created_on: stamp(updated - 400 * DAY),
    updated_on: stamp(updated),
    mainbranch: { type: 'branch', name: 'main' },
    workspace: { type: 'workspace', ...workspace },
    links: {
      self: { href: api },
      html: { href: `https://bitbucket.org/${workspace.slug}/${slug}` },
      avatar: { href: `https://bytebucket.org/ravatar/${encodeURIComponent(uuid)}?ts=${language}` },
      pullrequests: { href: `${api}/pullrequests` },
      clone: [
        { name: 'https', href: `https://bitbucket.org/${workspace.slug}/${slug}.git` },
        { name: 'ssh', href: `git@bitbucket.org:${workspace.slug}/${slug}.git` },
      ],
    },
  };
}

/** Repositories of a workspace, stored oldest update first so that `sort=-updated_on` visibly reorders them. */
function repositories(workspace: { uuid: string; slug: string; name: string }, names: string[], now: number): BitbucketRepository[] {
  const languages = ['typescript', 'python', 'go', 'rust', 'kotlin'];
  return names.map((name, i) =>
    repository(workspace, name, languages[i % languages.length] ?? 'typescript', i % 3 !== 2, now - (names.length - i) * 0.7 * DAY),
  );
}

/**
 * GitHub repositories of one owner, a dozen so paging shows, stored in creation order (oldest
 * first) with updates in another order, so that `orderBy: UPDATED_AT DESC` visibly reorders them.
 */
function githubRepositories(owner: string, now: number): GitHubRepository[] {
  const names = [
    'cobol',
    'flow-matic',
    'a-0-compiler',
    'mark-i',
    'univac',
    'nanosecond',
    'bug-log',
    'debugging',
    'navy-manuals',
    'talks',
    'dotfiles',
    'website',
  ];
  const descriptions = ['Common Business-Oriented Language', 'The first English-like data processing language', 'The A-0 System', null];
  return names.map((name, i) => {
    const updated = now - ((i * 5) % names.length) * 0.9 * DAY - DAY / 3;
    return {
      id: Buffer.from(`010:Repository${1_000_000 + i * 7919}`).toString('base64'),
      nameWithOwner: `${owner}/${name}`,
      description: descriptions[i % descriptions.length] ?? null,
      isPrivate: i % 4 === 3,
      url: `https://github.com/${owner}/${name}`,
      createdAt: new Date(now - (400 - i * 20) * DAY).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      updatedAt: new Date(updated).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      stargazerCount: (i * 37) % 101,
    };
  });
}

/** Provider accounts with their data. */
function seedProviders(parts: SeedParts, now: number): void {
  const today = Math.floor(now / DAY) * DAY;
  const ada = SEED_ACCOUNTS.ada;
  parts.google.addAccount({
    sub: ada.google,
    email: 'ada@example.com',
    emailVerified: true,
    name: 'Ada Lovelace',
    givenName: 'Ada',
    familyName: 'Lovelace',
    picture: 'https://lh3.googleusercontent.com/a/ACg8ocSandboxAda=s96-c',
    hd: 'example.com',
    timeZone: 'Europe/London',
    events: calendarEvents('ada@example.com', today),
    files: driveFiles(today),
  });
  parts.google.addAccount({
    sub: SEED_ACCOUNTS.grace.google,
    email: 'grace@example.com',
    emailVerified: true,
    name: 'Grace Hopper',
    givenName: 'Grace',
    familyName: 'Hopper',
    picture: 'https://lh3.googleusercontent.com/a/ACg8ocSandboxGrace=s96-c',
    events: calendarEvents('grace@example.com', today).slice(0, 3),
    files: driveFiles(today).slice(0, 4),
  });
  parts.facebook.addAccount({
    id: ada.facebook,
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    pictureUrl: `https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=${ada.facebook}&height=50&width=50&ext=1893456000&hash=AeSandboxAda`,
    friends: friends(30, 'ada'),
    totalFriendCount: 52,
  });
  parts.facebook.addAccount({ id: SEED_ACCOUNTS.margaret.facebook, name: 'Margaret Hamilton', friends: friends(4, 'margaret') });
  const katherine = SEED_ACCOUNTS.revokedGoogle;
  parts.google.addAccount({
    sub: katherine.google,
    email: 'katherine@example.com',
    emailVerified: true,
    name: 'Katherine Johnson',
    givenName: 'Katherine',
    familyName: 'Johnson',
    events: calendarEvents('katherine@example.com', today).slice(0, 2),
  });
  parts.facebook.addAccount({ id: katherine.facebook, name: 'Katherine Johnson', email: 'katherine@example.com', friends: friends(3, 'katherine') });
  const hedy = SEED_ACCOUNTS.deadFacebook;
  parts.facebook.addAccount({ id: hedy.facebook, name: 'Hedy Lamarr', friends: friends(5, 'hedy') });
  parts.google.addAccount({
    sub: hedy.google,
    email: 'hedy@example.com',
    emailVerified: true,
    name: 'Hedy Lamarr',
    givenName: 'Hedy',
    familyName: 'Lamarr',
    events: calendarEvents('hedy@example.com', today).slice(0, 2),
    files: driveFiles(today).slice(0, 2),
  });
  const personal = { uuid: braced('ada-lovelace'), slug: 'ada-lovelace', name: 'Ada Lovelace' };
  const engines = { uuid: braced('analytical-engines'), slug: 'analytical-engines', name: 'Analytical Engines Ltd' };
  parts.bitbucket.addAccount({
    uuid: ada.bitbucket,
    accountId: '557058:c0b72ad0-1cb5-4018-9cdc-0cde8492c443',
    nickname: 'ada',
    displayName: 'Ada Lovelace',
    workspaces: [
      { ...personal, role: 'owner' },
      { ...engines, role: 'member' },
    ],
    repositories: {
      [personal.slug]: repositories(
        personal,
        [
          'bernoulli',
          'notes',
          'punch-cards',
          'loom',
          'difference-engine',
          'poetical-science',
          'letters',
          'dotfiles',
          'website',
          'talks',
          'sketches',
          'engine-sim',
        ],
        now,
      ),
      [engines.slug]: repositories(engines, ['mill', 'store', 'reader'], now),
    },
  });
  const lab = { uuid: braced('turing-lab'), slug: 'turing-lab', name: 'Turing Lab' };
  parts.bitbucket.addAccount({
    uuid: SEED_ACCOUNTS.alan.bitbucket,
    accountId: '557058:a1b2c3d4-0000-4000-8000-000000000001',
    nickname: 'alan',
    displayName: 'Alan Turing',
    workspaces: [{ ...lab, role: 'owner' }],
    repositories: { [lab.slug]: repositories(lab, ['enigma', 'bombe', 'ace', 'morphogenesis'], now) },
  });
  parts.github.addAccount({
    id: String(SEED_ACCOUNTS.grace.github),
    login: 'ghopper',
    name: 'Grace Hopper',
    email: 'grace@example.com',
    avatarUrl: 'https://avatars.githubusercontent.com/u/1234567?v=4',
    repositories: githubRepositories('ghopper', now),
  });
  parts.microsoft.addAccount(microsoftAccount(SEED_ACCOUNTS.grace.microsoft, today));
  const items = Array.from({ length: 12 }, (_, i) => ({ id: `item-${i + 1}`, title: `Note ${i + 1}`, createdAt: new Date(today - i * DAY).toISOString() }));
  parts.oauth2.addAccount({ id: ada.oauth2, profile: { email: 'ada@corp.example', name: 'Ada Lovelace', department: 'Research' }, items });
}

/** The Auth0 connections, carrying the fakes' app credentials as the gateway reads them. */
function seedConnections(parts: SeedParts): void {
  const connections: RawConnection[] = [
    {
      id: 'con_V524HBuOXRBVWf2i',
      name: 'google-oauth2',
      strategy: 'google-oauth2',
      display_name: 'Google',
      options: {
        client_id: parts.google.clientId,
        client_secret: parts.google.clientSecret,
        email: true,
        profile: true,
        offline_access: true,
        calendar: true,
        drive: true,
        scope: ['email', 'profile', 'https://www.googleapis.com/auth/calendar.readonly', 'https://www.googleapis.com/auth/drive.metadata.readonly'],
        allowed_audiences: [],
      },
    },
    {
      id: 'con_Fb8sAnDb0x2Pq9Lm',
      name: 'facebook',
      strategy: 'facebook',
      display_name: 'Facebook',
      options: {
        client_id: parts.facebook.appId,
        client_secret: parts.facebook.appSecret,
        scope: 'email,public_profile,user_friends',
        email: true,
        public_profile: true,
        user_friends: true,
      },
    },
    {
      id: 'con_Bb3tSandb0xK7wQ',
      name: 'bitbucket',
      strategy: 'bitbucket',
      display_name: 'Bitbucket',
      options: {
        client_id: parts.bitbucket.clientId,
        client_secret: parts.bitbucket.clientSecret,
        scope: ['account', 'repository', 'pullrequest'],
        profile: true,
      },
    },
    {
      id: 'con_Gh9SandB0xT4kVn',
      name: 'github',
      strategy: 'github',
      display_name: 'GitHub',
      options: { client_id: parts.github.clientId, client_secret: parts.github.clientSecret, scope: ['read:user', 'user:email', 'repo'] },
    },
    {
      id: 'con_0a2CustomSbx61y',
      name: 'my-custom-oauth',
      strategy: 'oauth2',
      display_name: 'Corp SSO',
      options: {
        client_id: parts.oauth2.clientId,
        client_secret: parts.oauth2.clientSecret,
        authorizationURL: `${parts.oauth2.origin}/oauth/authorize`,
        tokenURL: `${parts.oauth2.origin}/oauth/token`,
        scope: 'profile items:read',
        scripts: { fetchUserProfile: `function (accessToken, ctx, cb) { cb(null, { user_id: 'abc-123' }); }` },
      },
    },
    {
      id: 'con_Db5Up4ssW0rdAuth',
      name: 'Username-Password-Authentication',
      strategy: 'auth0',
      options: { brute_force_protection: true, passwordPolicy: 'good', disable_signup: false },
    },
    {
      id: 'con_Wa4dAcmeAzure01x',
      name: 'acme-azure',
      strategy: 'waad',
      display_name: 'Acme Azure AD',
      is_domain_connection: false,
      options: {
        client_id: parts.microsoft.clientId,
        client_secret: parts.microsoft.clientSecret,
        tenant_domain: 'acme.onmicrosoft.com',
        domain_aliases: ['acme.example'],
        waad_protocol: 'openid-connect',
        identity_api: 'microsoft-identity-platform-v2.0',
        ext_access_token: true,
        ext_refresh_token: false,
        ext_expires_in: true,
        granted: false,
      },
    },
  ];
  for (const connection of connections) {
    parts.tenant.addConnection({
      realms: [connection.name],
      is_domain_connection: false,
      authentication: { active: true },
      connected_accounts: { active: false },
      ...connection,
    });
  }
}

/** A social identity holding provider tokens, as Auth0 stores them after a login through that connection. */
function identity(
  provider: string,
  connection: string,
  userId: string | number,
  tokens: IssuedTokens,
  expiresIn: number,
  profileData?: Record<string, unknown>,
): RawIdentity {
  const raw: RawIdentity = { provider, user_id: userId, connection, isSocial: true, access_token: tokens.access_token };
  if (tokens.refresh_token) raw.refresh_token = tokens.refresh_token;
  raw.expires_in = expiresIn;
  if (profileData) raw.profileData = profileData;
  return raw;
}

/** Seeds the fakes and the tenant; call after every fake listens (the custom connection needs the OAuth2 origin). */
export function seedSandbox(parts: SeedParts): SeededUsers {
  const now = Date.now();
  seedProviders(parts, now);
  seedConnections(parts);
  const tokens = issueSeedTokens(parts);
  seedUsers(parts.tenant, tokens, now);
  return { ids: SEED_USERS, accounts: SEED_ACCOUNTS, tokens };
}

/** Provider tokens for every seeded identity, issued by the fakes so that they really work there. */
function issueSeedTokens(parts: SeedParts): SeededUsers['tokens'] {
  const a = SEED_ACCOUNTS;
  return {
    ada: {
      google: parts.google.issueTokens(a.ada.google),
      facebook: parts.facebook.issueTokens(a.ada.facebook),
      bitbucket: parts.bitbucket.issueTokens(a.ada.bitbucket),
      oauth2: parts.oauth2.issueTokens(a.ada.oauth2),
    },
    // Issued two hours ago with a 3599 s lifetime: expired an hour ago, while their refresh tokens still work.
    grace: {
      google: parts.google.issueTokens(a.grace.google, { expiresIn: 3599 - 7200 }),
      github: parts.github.issueOAuthAppToken(String(a.grace.github)),
      microsoft: parts.microsoft.issueTokens(a.grace.microsoft, { expiresIn: 3599 - 7200 }),
    },
    margaret: { facebook: parts.facebook.issueTokens(a.margaret.facebook) },
    alan: { bitbucket: parts.bitbucket.issueTokens(a.alan.bitbucket) },
    revokedGoogle: revokedGoogleTokens(parts),
    deadFacebook: deadFacebookTokens(parts),
  };
}

/** Katherine's: Google tokens from two hours ago (expired an hour ago) whose refresh token she has since revoked. */
function revokedGoogleTokens(parts: SeedParts): SeededUsers['tokens']['revokedGoogle'] {
  const accounts = SEED_ACCOUNTS.revokedGoogle;
  const google = parts.google.issueTokens(accounts.google, { expiresIn: 3599 - 7200 });
  parts.google.revokeRefreshTokens(accounts.google);
  return { google, facebook: parts.facebook.issueTokens(accounts.facebook) };
}

/** Hedy's: a Facebook token Facebook has since invalidated (she changed her password), and working Google tokens. */
function deadFacebookTokens(parts: SeedParts): SeededUsers['tokens']['deadFacebook'] {
  const accounts = SEED_ACCOUNTS.deadFacebook;
  const facebook = parts.facebook.issueTokens(accounts.facebook);
  parts.facebook.invalidateTokens(accounts.facebook, 460);
  return { facebook, google: parts.google.issueTokens(accounts.google) };
}

/** The Auth0 users: fresh tokens stamped now, Grace's Google login two hours old. */
function seedUsers(tenant: FakeTenant, tokens: SeededUsers['tokens'], now: number): void {
  const a = SEED_ACCOUNTS;
  const at = new Date(now).toISOString();
  const twoHoursAgo = new Date(now - 7_200_000).toISOString();
  const user = { created_at: '2024-03-15T07:13:41.134Z', app_metadata: {}, user_metadata: {}, logins_count: 42, last_ip: '203.0.113.5' };
  tenant.addUser({
    ...user,
    user_id: SEED_USERS.ada,
    email: 'ada@example.com',
    email_verified: true,
    name: 'Ada Lovelace',
    given_name: 'Ada',
    family_name: 'Lovelace',
    nickname: 'ada',
    picture: 'https://lh3.googleusercontent.com/a/ACg8ocSandboxAda=s96-c',
    locale: 'en',
    updated_at: at,
    last_login: at,
    identities: [
      identity('google-oauth2', 'google-oauth2', a.ada.google, tokens.ada.google, 3599),
      identity('facebook', 'facebook', a.ada.facebook, tokens.ada.facebook, tokens.ada.facebook.expires_in, { email: 'ada@example.com', name: 'Ada Lovelace' }),
      identity('bitbucket', 'bitbucket', a.ada.bitbucket, tokens.ada.bitbucket, 7200, { name: 'Ada Lovelace', nickname: 'ada' }),
      identity('oauth2', 'my-custom-oauth', `my-custom-oauth|${a.ada.oauth2}`, tokens.ada.oauth2, 3600, { email: 'ada@corp.example', name: 'Ada Lovelace' }),
    ],
  });
  tenant.addUser({
    ...user,
    user_id: SEED_USERS.grace,
    email: 'grace@example.com',
    email_verified: true,
    name: 'Grace Hopper',
    nickname: 'ghopper',
    picture: 'https://avatars.githubusercontent.com/u/1234567?v=4',
    updated_at: twoHoursAgo,
    last_login: twoHoursAgo,
    identities: [
      { provider: 'github', user_id: a.grace.github, connection: 'github', isSocial: true, access_token: tokens.grace.github.access_token },
      identity('google-oauth2', 'google-oauth2', a.grace.google, tokens.grace.google, 3599, {
        email: 'grace@example.com',
        email_verified: true,
        name: 'Grace Hopper',
        given_name: 'Grace',
        family_name: 'Hopper',
      }),
      {
        provider: 'waad',
        user_id: a.grace.microsoft,
        connection: 'acme-azure',
        isSocial: false,
        access_token: tokens.grace.microsoft.access_token,
        refresh_token: tokens.grace.microsoft.refresh_token,
        expires_in: 3599,
        profileData: { email: 'grace@acme.example', name: 'Grace Hopper', upn: 'grace@acme.onmicrosoft.com', tenantid: 'acme.onmicrosoft.com' },
      },
    ],
  });
  tenant.addUser({
    ...user,
    user_id: SEED_USERS.linus,
    email: 'linus@example.com',
    email_verified: false,
    name: 'linus@example.com',
    nickname: 'linus',
    picture: 'https://s.gravatar.com/avatar/5457edea1b8f22891a000004?s=480&r=pg&d=mp',
    updated_at: at,
    last_login: at,
    identities: [{ provider: 'auth0', user_id: '5457edea1b8f22891a000004', connection: 'Username-Password-Authentication', isSocial: false }],
  });
  tenant.addUser({
    ...user,
    user_id: SEED_USERS.margaret,
    name: 'Margaret Hamilton',
    nickname: 'margaret',
    updated_at: at,
    last_login: at,
    picture: `https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=${a.margaret.facebook}&height=50&width=50`,
    identities: [identity('facebook', 'facebook', a.margaret.facebook, tokens.margaret.facebook, tokens.margaret.facebook.expires_in)],
  });
  tenant.addUser({
    ...user,
    user_id: SEED_USERS.alan,
    name: 'Alan Turing',
    nickname: 'alan',
    updated_at: at,
    last_login: at,
    picture: 'https://secure.gravatar.com/avatar/a1b2c3d4?d=mm',
    identities: [identity('bitbucket', 'bitbucket', a.alan.bitbucket, tokens.alan.bitbucket, 7200)],
  });
  // Signed in two hours ago with a one-hour Google token: the gateway must renew it, and Google refuses.
  tenant.addUser({
    ...user,
    user_id: SEED_USERS.revokedGoogle,
    email: 'katherine@example.com',
    email_verified: true,
    name: 'Katherine Johnson',
    given_name: 'Katherine',
    family_name: 'Johnson',
    nickname: 'katherine',
    updated_at: twoHoursAgo,
    last_login: twoHoursAgo,
    identities: [
      identity('google-oauth2', 'google-oauth2', a.revokedGoogle.google, tokens.revokedGoogle.google, 3599),
      identity('facebook', 'facebook', a.revokedGoogle.facebook, tokens.revokedGoogle.facebook, tokens.revokedGoogle.facebook.expires_in, {
        email: 'katherine@example.com',
        name: 'Katherine Johnson',
      }),
    ],
  });
  // A Facebook token Auth0 still believes good for two months; Facebook itself refuses it.
  tenant.addUser({
    ...user,
    user_id: SEED_USERS.deadFacebook,
    name: 'Hedy Lamarr',
    nickname: 'hedy',
    updated_at: at,
    last_login: at,
    picture: `https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=${a.deadFacebook.facebook}&height=50&width=50`,
    identities: [
      identity('facebook', 'facebook', a.deadFacebook.facebook, tokens.deadFacebook.facebook, tokens.deadFacebook.facebook.expires_in),
      identity('google-oauth2', 'google-oauth2', a.deadFacebook.google, tokens.deadFacebook.google, 3599, {
        email: 'hedy@example.com',
        email_verified: true,
        name: 'Hedy Lamarr',
      }),
    ],
  });
}
