import { randomUUID } from 'node:crypto';
import { bearerToken, parseFormOrJson, type SimRequest, type SimResponse } from './http.js';
import { ProviderSimulator } from './provider-simulator.js';
import { intParam, randomToken, type IssueOptions, type IssuedTokens } from './provider-tokens.js';

/**
 * Simulated Microsoft identity platform and Microsoft Graph v1.0 (docs/upstream-apis.md#microsoft):
 * the tenant token endpoint `/{tenant}/oauth2/v2.0/token` (a new refresh token on every refresh
 * while the old one keeps working; AADSTS-coded error bodies), and `/v1.0/me`, `/me/events`,
 * `/me/messages` and `/me/drive/root/children` with `$select`, `$top`, `@odata.context` and
 * `@odata.nextLink` (`$skip` for events, an opaque `$skiptoken` for messages and drive items).
 * Tokens carry the delegated permissions they were granted: a call without the one it needs is a 403.
 */

/** A calendar event as stored: instants in UTC (Graph answers in UTC unless told otherwise). */
export interface GraphEvent {
  id: string;
  subject: string;
  start: string;
  end: string;
  webLink: string;
  [property: string]: unknown;
}

/** A message as Graph returns it (the fake stores the full default property set). */
export interface GraphMessage {
  id: string;
  subject: string;
  receivedDateTime: string;
  isRead: boolean;
  from: { emailAddress: { name: string; address: string } };
  [property: string]: unknown;
}

/** A drive item as Graph returns it; folders have `folder`, files `file`. */
export interface GraphDriveItem {
  id: string;
  name: string;
  size: number;
  lastModifiedDateTime: string;
  webUrl: string;
  folder?: { childCount: number };
  file?: { mimeType: string };
  [property: string]: unknown;
}

/** A Microsoft account: the user object (its `id` keys it) and its data. */
export interface MicrosoftAccount {
  id: string;
  displayName: string;
  mail: string | null;
  userPrincipalName: string;
  givenName?: string;
  surname?: string;
  jobTitle?: string | null;
  events?: GraphEvent[];
  messages?: GraphMessage[];
  driveItems?: GraphDriveItem[];
}

/** Options of the fake; `nextLinkBase` makes nextLinks point elsewhere (default `<origin>/v1.0`). */
export interface MicrosoftOptions {
  clientId?: string;
  clientSecret?: string;
  nextLinkBase?: string;
}

/** Delegated permissions granted by default: everything the gateway reads. */
export const GRAPH_PERMISSIONS = ['User.Read', 'Calendars.ReadBasic', 'Mail.ReadBasic', 'Files.Read'] as const;

const ACCESS_LIFETIME = 3599;
const GRAPH = '/v1.0';

/** What a route needs: any one of these delegated permissions, and the answer when none is held. */
const PERMISSIONS = {
  me: { any: ['User.Read', 'User.ReadWrite', 'User.ReadBasic.All', 'User.Read.All'], code: 'Authorization_RequestDenied' },
  events: { any: ['Calendars.ReadBasic', 'Calendars.Read', 'Calendars.ReadWrite'], code: 'ErrorAccessDenied' },
  messages: { any: ['Mail.ReadBasic', 'Mail.Read', 'Mail.ReadWrite'], code: 'ErrorAccessDenied' },
  driveChildren: { any: ['Files.Read', 'Files.ReadWrite', 'Files.Read.All', 'Files.ReadWrite.All'], code: 'ErrorAccessDenied' },
} as const;

const DENIED_MESSAGES: Record<string, string> = {
  Authorization_RequestDenied: 'Insufficient privileges to complete the operation.',
  ErrorAccessDenied: 'Access is denied. Check credentials and try again.',
};

/** Graph's error envelope with its `innerError` (date, request ids). */
export function graphError(status: number, code: string, message: string, headers: Record<string, string> = {}): SimResponse {
  const requestId = randomUUID();
  const date = new Date().toISOString().slice(0, 19);
  return { status, headers, body: { error: { code, message, innerError: { date, 'request-id': requestId, 'client-request-id': requestId } } } };
}

/** Graph's throttling answer: 429 `TooManyRequests` with Retry-After (seconds); for `injectFault`. */
export function throttled(retryAfter: number, status = 429): SimResponse & { headers: Record<string, string> } {
  const code = status === 429 ? 'TooManyRequests' : 'serviceNotAvailable';
  const message = status === 429 ? 'Too many requests.' : 'Service unavailable.';
  return graphError(status, code, message, { 'retry-after': String(retryAfter) }) as SimResponse & { headers: Record<string, string> };
}

/** An identity platform (AADSTS) error answer, as the v2.0 token endpoint sends it. */
function aadError(status: number, error: string, code: number, description: string): SimResponse {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = `${new Date().toISOString().slice(0, 19).replace('T', ' ')}Z`;
  return {
    status,
    headers: { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' },
    body: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

/** Properties of each entity type that `$select` may name (Graph answers 400 for others). */
const PROPERTIES = {
  event: ['id', 'subject', 'start', 'end', 'webLink', 'bodyPreview', 'organizer', 'isAllDay', 'location', 'createdDateTime', 'lastModifiedDateTime'],
  message: ['id', 'subject', 'from', 'receivedDateTime', 'isRead', 'bodyPreview', 'sender', 'toRecipients', 'hasAttachments', 'importance', 'webLink'],
  driveItem: ['id', 'name', 'size', 'lastModifiedDateTime', 'webUrl', 'folder', 'file', 'createdDateTime', 'parentReference', 'eTag'],
  user: [
    'id',
    'displayName',
    'mail',
    'userPrincipalName',
    'givenName',
    'surname',
    'jobTitle',
    'businessPhones',
    'mobilePhone',
    'officeLocation',
    'preferredLanguage',
  ],
} as const;

/**
 * The simulated Microsoft. Route names (call counters): `token`, `me`, `events`, `messages`,
 * `driveChildren`. Accounts are keyed by their user object id; `issueTokens` gives a 3599 s access
 * token and a refresh token carrying `permissions` (default: GRAPH_PERMISSIONS).
 */
export class FakeMicrosoft extends ProviderSimulator<MicrosoftAccount, 'id'> {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly options: { nextLinkBase?: string };
  /**
   * Every refresh grant that took effect: the refresh token presented and the one returned. The old
   * one stays valid, so only this shows whether a client keeps the newest (tests compare them).
   */
  readonly refreshes: { presented: string; returned: string }[] = [];
  /** The `Prefer` header of every Graph request, in order ('' when absent). */
  readonly preferHeaders: string[] = [];
  /** Delegated permissions per issued token (access and refresh). */
  private readonly grants = new Map<string, readonly string[]>();
  /** Opaque `$skiptoken` values the fake handed out, and the offset each stands for. */
  private readonly skipTokens = new Map<string, number>();

  constructor(options: MicrosoftOptions = {}) {
    super({
      provider: 'FakeMicrosoft',
      key: 'id',
      accessLifetime: ACCESS_LIFETIME,
      refreshTokens: true,
      // Real ones are JWTs (access) and opaque `1.A…`/`0.A…` strings (refresh).
      mint: { access: () => `eyJ0eXAiOiJKV1Qi.${randomToken(48)}`, refresh: () => `1.AVEA${randomToken(96)}` },
    });
    this.clientId = options.clientId ?? randomUUID();
    this.clientSecret = options.clientSecret ?? randomToken(30);
    this.options = { nextLinkBase: options.nextLinkBase };
    this.route('token', 'POST', /^\/([^/]+)\/oauth2\/v2\.0\/token$/, (req) => this.token(req));
    this.route('me', 'GET', /^\/v1\.0\/me\/?$/, (req) => this.graph(req, 'me', (a) => this.me(a, req)));
    this.route('events', 'GET', /^\/v1\.0\/me\/events\/?$/, (req) =>
      this.graph(req, 'events', (a) => this.list(req, 'events', 'event', a.events ?? [], '$skip', (e) => this.eventView(e as GraphEvent))),
    );
    this.route('messages', 'GET', /^\/v1\.0\/me\/messages\/?$/, (req) =>
      this.graph(req, 'messages', (a) => {
        const newestFirst = [...(a.messages ?? [])].sort((x, y) => y.receivedDateTime.localeCompare(x.receivedDateTime));
        return this.list(req, 'messages', 'message', newestFirst, '$skiptoken');
      }),
    );
    this.route('driveChildren', 'GET', /^\/v1\.0\/me\/drive\/root\/children\/?$/, (req) =>
      this.graph(req, 'driveChildren', (a) => this.list(req, 'drive/root/children', 'driveItem', a.driveItems ?? [], '$skiptoken')),
    );
  }

  /** The stored account, so tests can edit it in place. */
  account(id: string): MicrosoftAccount | undefined {
    return this.accounts.get(id);
  }

  /** Issues tokens as a completed consent would, granting `permissions` (default: GRAPH_PERMISSIONS). */
  override issueTokens(accountId: string, options: IssueOptions & { permissions?: readonly string[] } = {}): IssuedTokens {
    const tokens = super.issueTokens(accountId, options);
    const permissions = options.permissions ?? GRAPH_PERMISSIONS;
    this.grants.set(tokens.access_token, permissions);
    if (tokens.refresh_token) this.grants.set(tokens.refresh_token, permissions);
    return tokens;
  }

  /** POST /{tenant}/oauth2/v2.0/token: the refresh grant, client credentials in the form. */
  private token(req: SimRequest): SimResponse {
    const form = parseFormOrJson(req);
    if (form.client_id !== this.clientId) {
      return aadError(400, 'unauthorized_client', 700016, `Application with identifier '${form.client_id ?? ''}' was not found in the directory.`);
    }
    if (form.client_secret !== this.clientSecret) {
      return aadError(
        401,
        'invalid_client',
        7000215,
        'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.',
      );
    }
    if (form.grant_type !== 'refresh_token') return aadError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    const record = this.book.refreshRecord(form.refresh_token ?? '');
    if (!record) return aadError(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
    if (record.revoked) {
      return aadError(
        400,
        'invalid_grant',
        50173,
        'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.',
      );
    }
    const permissions = this.grants.get(form.refresh_token ?? '') ?? [];
    // A new refresh token every time; the presented one is NOT revoked (both stay valid).
    const access_token = this.book.issueAccess(record.accountId, ACCESS_LIFETIME, record.family);
    const refresh_token = this.book.issueRefresh(record.accountId, record.family);
    this.grants.set(access_token, permissions);
    this.grants.set(refresh_token, permissions);
    this.refreshes.push({ presented: form.refresh_token ?? '', returned: refresh_token });
    const scope = permissions.map((p) => `https://graph.microsoft.com/${p}`).join(' ');
    return {
      status: 200,
      headers: { 'Cache-Control': 'no-store, no-cache', Pragma: 'no-cache' },
      body: { token_type: 'Bearer', scope, expires_in: ACCESS_LIFETIME, ext_expires_in: ACCESS_LIFETIME, access_token, refresh_token },
    };
  }

  /** Runs a Graph call for the account of the bearer token, if it holds a permission the route needs. */
  private graph(req: SimRequest, route: keyof typeof PERMISSIONS, handler: (account: MicrosoftAccount) => SimResponse): SimResponse {
    this.preferHeaders.push(String(req.headers.prefer ?? ''));
    const token = bearerToken(req);
    const check = this.book.checkAccess(token);
    const refused = (message: string) =>
      graphError(401, 'InvalidAuthenticationToken', message, {
        'WWW-Authenticate':
          'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"',
      });
    if (check.state === 'missing') return refused('Access token is empty.');
    if (check.state === 'unknown') return refused('CompactToken parsing failed with error code: 80049217');
    if (check.state === 'expired') return refused('Lifetime validation failed, the token is expired.');
    if (check.state === 'revoked') return refused('Access token has expired or is not yet valid.');
    const account = this.accounts.get(check.record.accountId);
    if (!account) return refused('Access token validation failure. Invalid audience.');
    const granted = this.grants.get(token ?? '') ?? [];
    const { any, code } = PERMISSIONS[route];
    if (!any.some((permission) => granted.includes(permission))) return graphError(403, code, DENIED_MESSAGES[code] ?? 'Access denied.');
    return handler(account);
  }

  /** GET /v1.0/me: the default property set, or what `$select` names. */
  private me(account: MicrosoftAccount, req: SimRequest): SimResponse {
    const user: Record<string, unknown> = {
      businessPhones: [],
      displayName: account.displayName,
      givenName: account.givenName ?? null,
      jobTitle: account.jobTitle ?? null,
      mail: account.mail,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: 'en-US',
      surname: account.surname ?? null,
      userPrincipalName: account.userPrincipalName,
      id: account.id,
    };
    const select = this.selection(req, 'user');
    if ('status' in select) return select;
    const context = select.names ? `users(${select.names.join(',')})/$entity` : 'users/$entity';
    return { status: 200, body: { '@odata.context': `${this.origin}${GRAPH}/$metadata#${context}`, ...pick(user, select.names) } };
  }

  /**
   * A collection page: `$select` and `$top` honoured, `@odata.nextLink` with `$skip` or an opaque
   * `$skiptoken` (whichever the collection uses) while items remain.
   */
  private list(
    req: SimRequest,
    path: string,
    type: keyof typeof PROPERTIES,
    all: readonly Record<string, unknown>[],
    paging: '$skip' | '$skiptoken',
    view: (item: Record<string, unknown>) => Record<string, unknown> = (item) => item,
  ): SimResponse {
    const select = this.selection(req, type);
    if ('status' in select) return select;
    const top = intParam(req.query, '$top', type === 'driveItem' ? 200 : 10);
    if (!(top >= 1 && top <= 1000)) return graphError(400, 'BadRequest', `Invalid value '${req.query.get('$top')}' for $top query option.`);
    const skipToken = req.query.get('$skiptoken');
    const from = skipToken !== null ? this.skipTokens.get(skipToken) : intParam(req.query, '$skip', 0);
    if (from === undefined || !(from >= 0)) return graphError(400, 'BadRequest', 'The skip token or $skip value is not valid.');
    const body: Record<string, unknown> = {
      '@odata.context': `${this.origin}${GRAPH}/$metadata#users('${encodeURIComponent(this.accountId(req))}')/${path}${select.names ? `(${select.names.join(',')})` : ''}`,
      value: all.slice(from, from + top).map((item) => pick(view(item), select.names)),
    };
    if (from + top < all.length) {
      const query = new URLSearchParams();
      if (select.names) query.set('$select', select.names.join(','));
      query.set('$top', String(top));
      if (paging === '$skip') {
        query.set('$skip', String(from + top));
      } else {
        const opaque = randomToken(24);
        this.skipTokens.set(opaque, from + top);
        query.set('$skiptoken', opaque);
      }
      body['@odata.nextLink'] = `${this.options.nextLinkBase ?? `${this.origin}${GRAPH}`}/me/${path}?${query.toString().replace(/%24/g, '$')}`;
    }
    return { status: 200, body };
  }

  /** An event with its times as `dateTimeTimeZone` in UTC (seven fractional digits, as Graph prints them). */
  private eventView(event: GraphEvent): Record<string, unknown> {
    const wallClock = (iso: string) => `${new Date(iso).toISOString().slice(0, 19)}.0000000`;
    return { ...event, start: { dateTime: wallClock(event.start), timeZone: 'UTC' }, end: { dateTime: wallClock(event.end), timeZone: 'UTC' } };
  }

  /** `$select` as a list of properties, or Graph's 400 for a property the type does not have. */
  private selection(req: SimRequest, type: keyof typeof PROPERTIES): { names?: string[] } | SimResponse {
    const raw = req.query.get('$select');
    if (raw === null) return {};
    const names = raw.split(',').map((name) => name.trim());
    const unknown = names.find((name) => !(PROPERTIES[type] as readonly string[]).includes(name));
    if (unknown !== undefined) return graphError(400, 'BadRequest', `Could not find a property named '${unknown}' on type 'microsoft.graph.${type}'.`);
    return { names };
  }

  private accountId(req: SimRequest): string {
    const check = this.book.checkAccess(bearerToken(req));
    return check.state === 'valid' ? check.record.accountId : '';
  }
}

/** Only the selected properties (and `id`, which Graph always returns); everything without `$select`. */
function pick(item: Record<string, unknown>, names: string[] | undefined): Record<string, unknown> {
  if (!names) return item;
  return Object.fromEntries(Object.entries(item).filter(([key]) => key === 'id' || names.includes(key)));
}
