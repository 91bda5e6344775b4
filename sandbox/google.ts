import { createHash } from 'node:crypto';
import { basicCredentials, bearerToken, parseFormOrJson, type SimRequest, type SimResponse } from './http.js';
import { ProviderSimulator } from './provider-simulator.js';
import { intParam, randomToken } from './provider-tokens.js';

/**
 * Simulated Google: the OAuth token endpoint, OIDC userinfo, Calendar v3 events and Drive v3 files,
 * with Google's wire details (docs/upstream-apis.md#google). Google never rotates refresh tokens, so
 * the token endpoint never returns one; tests rely on that to prove the gateway keeps the original.
 */

/** A raw Calendar v3 event object, served as stored. */
export type GoogleEvent = Record<string, unknown> & {
  id: string;
  status?: string;
  updated?: string;
  summary?: string;
  start: { dateTime?: string; date?: string; timeZone?: string };
  end: { dateTime?: string; date?: string; timeZone?: string };
};

/** A raw Drive v3 file resource, served through the field mask. */
export type GoogleFile = Record<string, unknown> & {
  id: string;
  name: string;
  mimeType: string;
  modifiedTime?: string;
  trashed?: boolean;
  parents?: string[];
};

/** A Google account as the fake knows it: OIDC profile plus calendar and drive contents. */
export interface GoogleAccount {
  sub: string;
  email?: string;
  emailVerified?: boolean;
  name?: string;
  givenName?: string;
  familyName?: string;
  picture?: string;
  hd?: string;
  /** Calendar time zone reported in the events envelope; default UTC. */
  timeZone?: string;
  events?: GoogleEvent[];
  files?: GoogleFile[];
}

/** The scopes the sandbox grants, echoed by the token endpoint. */
export const GOOGLE_SCOPE =
  'openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile ' +
  'https://www.googleapis.com/auth/calendar.readonly https://www.googleapis.com/auth/drive.metadata.readonly';

const TOKEN_HEADERS = { 'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate', Pragma: 'no-cache' };
const ACCESS_LIFETIME = 3599;

/** A googleapis.com JSON error body: `{error: {code, message, errors: [{domain, reason, …}], status?}}`. */
function googleError(code: number, message: string, detail: Record<string, string>, status?: string): SimResponse['body'] {
  const error: Record<string, unknown> = { code, message, errors: [{ message: detail.message ?? message, domain: 'global', ...detail }] };
  if (status) error.status = status;
  return { error };
}

/** A 400 "Invalid Value" naming the offending query parameter, as Calendar and Drive answer. */
function invalidParameter(location: string, message = 'Invalid Value'): SimResponse {
  return { status: 400, body: googleError(400, message, { reason: 'invalid', message, locationType: 'parameter', location }) };
}

/** Google's rate-limit bodies (403 or 429, domain `usageLimits`), for tests that inject them as faults. */
export function googleRateLimitBody(kind: 'userRateLimitExceeded' | 'rateLimitExceeded', status: 403 | 429): unknown {
  const message = kind === 'userRateLimitExceeded' ? 'User Rate Limit Exceeded' : 'Rate Limit Exceeded';
  return { error: { errors: [{ domain: 'usageLimits', reason: kind, message }], code: status, message } };
}

/** Opaque page token bound to the query it came from, so a token replayed with other filters is rejected. */
function encodePageToken(offset: number, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ o: offset, f: fingerprint })).toString('base64url');
}

/** Decodes a page token; undefined when it is malformed or belongs to another query. */
function decodePageToken(token: string | null, fingerprint: string): number | undefined {
  if (token === null) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown; f?: unknown };
    return typeof parsed.o === 'number' && parsed.f === fingerprint ? parsed.o : undefined;
  } catch {
    return undefined;
  }
}

/** Hash of the query parameters that shape a result list. */
function fingerprint(query: URLSearchParams, names: string[]): string {
  return createHash('sha256')
    .update(JSON.stringify(names.map((n) => query.getAll(n))))
    .digest('base64url')
    .slice(0, 12);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** Start or end of an event in ms; all-day dates count from midnight UTC. */
function eventTime(point: GoogleEvent['start']): number {
  if (point.dateTime) return Date.parse(point.dateTime);
  return point.date ? Date.parse(`${point.date}T00:00:00Z`) : Number.NaN;
}

/** Applies the Calendar list filters; a response when a parameter is invalid. */
function selectEvents(events: GoogleEvent[], query: URLSearchParams): GoogleEvent[] | SimResponse {
  const timeMin = query.get('timeMin');
  const timeMax = query.get('timeMax');
  if ([timeMin, timeMax].some((value) => value !== null && !RFC3339.test(value))) {
    return { status: 400, body: googleError(400, 'Bad Request', { reason: 'badRequest', message: 'Bad Request' }) };
  }
  const min = timeMin === null ? -Infinity : Date.parse(timeMin);
  const max = timeMax === null ? Infinity : Date.parse(timeMax);
  if (min >= max) {
    const message = 'The specified time range is empty.';
    return { status: 400, body: googleError(400, message, { reason: 'timeRangeEmpty', message, locationType: 'parameter', location: 'timeMax' }) };
  }
  const singleEvents = query.get('singleEvents') === 'true';
  const orderBy = query.get('orderBy');
  if ((orderBy === 'startTime' && !singleEvents) || (orderBy !== null && orderBy !== 'startTime' && orderBy !== 'updated')) {
    const message = 'The requested ordering is not available for the particular query.';
    return { status: 400, body: googleError(400, message, { reason: 'badRequest', message }) };
  }
  const showDeleted = query.get('showDeleted') === 'true';
  const text = query.get('q')?.toLowerCase();
  const selected = events.filter(
    (e) =>
      eventTime(e.end) > min &&
      eventTime(e.start) < max &&
      (showDeleted || e.status !== 'cancelled') &&
      (!text || `${e.summary ?? ''} ${typeof e.description === 'string' ? e.description : ''}`.toLowerCase().includes(text)),
  );
  if (orderBy === 'startTime') selected.sort((a, b) => eventTime(a.start) - eventTime(b.start));
  if (orderBy === 'updated') selected.sort((a, b) => Date.parse(a.updated ?? '') - Date.parse(b.updated ?? ''));
  return selected;
}

/** One `q` term of the Drive query language that the fake understands. */
const DRIVE_TERM =
  /^\s*(?:(trashed|starred)\s*(=|!=)\s*(true|false)|(name|mimeType|fullText)\s+(contains|=|!=)\s+'((?:[^'\\]|\\.)*)'|'((?:[^'\\]|\\.)*)'\s+in\s+parents|(modifiedTime|createdTime)\s*(<=|>=|<|>|=)\s*'([^']*)')\s*/i;

/** Compiles a Drive `q` (terms joined by `and`) into a predicate; undefined when outside the subset. */
function driveQuery(q: string): ((file: GoogleFile) => boolean) | undefined {
  const tests: ((file: GoogleFile) => boolean)[] = [];
  let rest = q;
  while (rest.trim() !== '') {
    const m = DRIVE_TERM.exec(rest);
    if (!m) return undefined;
    tests.push(driveTerm(m));
    rest = rest.slice(m[0].length);
    if (rest.trim() === '') break;
    const joiner = /^and\s+/i.exec(rest);
    if (!joiner) return undefined;
    rest = rest.slice(joiner[0].length);
  }
  return (file) => tests.every((t) => t(file));
}

/** One matched term as a predicate. `name contains` is a prefix match on words, as Drive documents. */
function driveTerm(m: RegExpExecArray): (file: GoogleFile) => boolean {
  const unescape = (s: string): string => s.replace(/\\(.)/g, '$1');
  if (m[1]) {
    const want = m[3]?.toLowerCase() === 'true';
    const field = m[1].toLowerCase() === 'trashed' ? 'trashed' : 'starred';
    return (file) => (Boolean(file[field]) === want) === (m[2] === '=');
  }
  if (m[8]) {
    const field = m[8].toLowerCase() === 'modifiedtime' ? 'modifiedTime' : 'createdTime';
    const bound = Date.parse(m[10] ?? '');
    const op = m[9];
    return (file) => {
      const t = Date.parse(String(file[field]));
      return op === '<' ? t < bound : op === '<=' ? t <= bound : op === '>' ? t > bound : op === '>=' ? t >= bound : t === bound;
    };
  }
  if (m[7] !== undefined) {
    const parent = unescape(m[7]);
    return (file) => (file.parents ?? []).includes(parent);
  }
  const field = m[4]?.toLowerCase() === 'mimetype' ? 'mimeType' : 'name';
  const value = unescape(m[6] ?? '');
  const op = m[5]?.toLowerCase();
  if (op === 'contains') {
    const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const words = new RegExp(m[4]?.toLowerCase() === 'fulltext' ? escaped : `(^|[^\\p{L}\\p{N}])${escaped}`, 'iu');
    return (file) => words.test(String(file[field]));
  }
  return (file) => (file[field] === value) === (op === '=');
}

/** Parses a Drive `fields` mask into top-level names and optional file sub-fields ('*' = all). */
function parseFieldMask(fields: string): Map<string, string[] | '*'> | string {
  const mask = new Map<string, string[] | '*'>();
  const parts = fields.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  for (const raw of parts) {
    const part = raw.trim();
    const m = /^([A-Za-z*]+)(?:\/([A-Za-z]+)|\(([^)]*)\))?$/.exec(part);
    const name = m?.[1];
    if (!m || !name || !['kind', 'nextPageToken', 'incompleteSearch', 'files', '*'].includes(name)) return part;
    const sub = m[2] ? [m[2]] : m[3]?.split(',').map((s) => s.trim());
    const known = mask.get(name);
    if (!sub || sub.includes('*') || known === '*') mask.set(name, '*');
    else mask.set(name, [...(known ?? []), ...sub]);
  }
  return mask;
}

/**
 * The simulated Google. Route names (call counters): `token`, `userinfo`, `calendarEvents`,
 * `driveFiles`. Accounts are keyed by `sub`; `issueTokens` gives a 3599 s access token plus a
 * refresh token by default. Caution: every account's data is served as stored, so tests own its realism.
 */
export class FakeGoogle extends ProviderSimulator<GoogleAccount, 'sub'> {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Every bearer token presented to userinfo, Calendar or Drive, in order: which token a test's call really used. */
  readonly presentedAccessTokens: string[] = [];

  constructor(options: { clientId?: string; clientSecret?: string } = {}) {
    super({
      provider: 'FakeGoogle',
      key: 'sub',
      accessLifetime: ACCESS_LIFETIME,
      refreshTokens: true,
      mint: { access: () => `ya29.a0${randomToken(96)}`, refresh: () => `1//0${randomToken(72)}` },
    });
    this.clientId = options.clientId ?? 'sandbox-google-client.apps.googleusercontent.com';
    this.clientSecret = options.clientSecret ?? `GOCSPX-${randomToken(21)}`;
    this.route('token', 'POST', /^\/(?:token|oauth2\/v4\/token)$/, (req) => this.token(req));
    this.route('userinfo', 'GET', /^\/(?:oauth2\/v3|v1)\/userinfo$/, (req) => this.userinfo(req));
    this.route('calendarEvents', 'GET', /^\/calendar\/v3\/calendars\/primary\/events$/, (req) => this.calendarEvents(req));
    this.route('driveFiles', 'GET', /^\/drive\/v3\/files$/, (req) => this.driveFiles(req));
  }

  /** The stored account, so tests can edit its data in place. */
  account(sub: string): GoogleAccount | undefined {
    return this.accounts.get(sub);
  }

  /** Zeroes the call counters and forgets the presented tokens. */
  override resetCounters(): void {
    super.resetCounters();
    this.presentedAccessTokens.length = 0;
  }

  /** POST /token: the refresh grant with Google's error bodies; never a new refresh token. */
  private token(req: SimRequest): SimResponse {
    const form = parseFormOrJson(req);
    const basic = basicCredentials(req);
    const clientId = basic?.id ?? form.client_id;
    const clientSecret = basic?.secret ?? form.client_secret;
    const fail = (status: number, error: string, description: string): SimResponse => ({
      status,
      headers: TOKEN_HEADERS,
      body: { error, error_description: description },
    });
    if (!clientId) return fail(400, 'invalid_request', 'Could not determine client ID from request.');
    if (clientId !== this.clientId) return fail(401, 'invalid_client', 'The OAuth client was not found.');
    if (!clientSecret) return fail(400, 'invalid_request', 'client_secret is missing.');
    if (clientSecret !== this.clientSecret) return fail(401, 'invalid_client', 'Unauthorized');
    if (form.grant_type !== 'refresh_token') return fail(400, 'unsupported_grant_type', `Invalid grant_type: ${form.grant_type ?? ''}`);
    if (!form.refresh_token) return fail(400, 'invalid_request', 'Missing required parameter: refresh_token');
    const record = this.book.refreshRecord(form.refresh_token);
    const account = record && this.accounts.get(record.accountId);
    if (!record || record.revoked || !account) return fail(400, 'invalid_grant', 'Token has been expired or revoked.');
    record.firstUsedAt ??= Date.now();
    const access_token = this.book.issueAccess(record.accountId, ACCESS_LIFETIME, record.family);
    const body = { access_token, expires_in: ACCESS_LIFETIME, scope: GOOGLE_SCOPE, token_type: 'Bearer', id_token: this.idToken(account) };
    return { status: 200, headers: TOKEN_HEADERS, body };
  }

  /** An ID token that looks and decodes like Google's; the signature is random since nothing verifies it here. */
  private idToken(account: GoogleAccount): string {
    const now = Math.floor(Date.now() / 1000);
    const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claims = {
      iss: 'https://accounts.google.com',
      azp: this.clientId,
      aud: this.clientId,
      sub: account.sub,
      email: account.email,
      email_verified: account.emailVerified,
      iat: now,
      exp: now + ACCESS_LIFETIME,
    };
    return `${part({ alg: 'RS256', kid: 'sandbox', typ: 'JWT' })}.${part(claims)}.${randomToken(64)}`;
  }

  /** Resolves the bearer token of an API call to its account, or Google's 401 (`authError`; `required` without one). */
  private authenticate(req: SimRequest): GoogleAccount | SimResponse {
    const presented = bearerToken(req);
    if (presented) this.presentedAccessTokens.push(presented);
    const check = this.book.checkAccess(presented);
    const account = check.state === 'valid' ? this.accounts.get(check.record.accountId) : undefined;
    if (account) return account;
    const detail = { locationType: 'header', location: 'Authorization' };
    if (check.state === 'missing') {
      const message =
        'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
      const body = googleError(401, message, { reason: 'required', message: 'Login Required.', ...detail }, 'UNAUTHENTICATED');
      return { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/"' }, body };
    }
    const message =
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
    const body = googleError(401, message, { reason: 'authError', message: 'Invalid Credentials', ...detail }, 'UNAUTHENTICATED');
    return { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' }, body };
  }

  /** GET userinfo: OIDC claims; its 401 is OAuth-style rather than the googleapis envelope. */
  private userinfo(req: SimRequest): SimResponse {
    const account = this.authenticate(req);
    if ('status' in account) {
      const headers = { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' };
      return { status: 401, headers, body: { error: 'invalid_request', error_description: 'Invalid Credentials' } };
    }
    const claims = {
      sub: account.sub,
      name: account.name,
      given_name: account.givenName,
      family_name: account.familyName,
      picture: account.picture,
      email: account.email,
      email_verified: account.emailVerified,
      hd: account.hd,
    };
    return { status: 200, body: Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined)) };
  }

  /** GET calendar events: Calendar v3's filters, ordering and page tokens. */
  private calendarEvents(req: SimRequest): SimResponse {
    const account = this.authenticate(req);
    if ('status' in account) return account;
    const maxResults = Math.min(intParam(req.query, 'maxResults', 250), 2500);
    if (!(maxResults >= 1)) return invalidParameter('maxResults', `Invalid value '${req.query.get('maxResults')}'. Values must be within the range: [1, 2500]`);
    const selected = selectEvents(account.events ?? [], req.query);
    if (!Array.isArray(selected)) return selected;
    const print = fingerprint(req.query, ['timeMin', 'timeMax', 'q', 'orderBy', 'singleEvents', 'showDeleted']);
    const offset = decodePageToken(req.query.get('pageToken'), print);
    if (offset === undefined) return invalidParameter('pageToken');
    const items = selected.slice(offset, offset + maxResults);
    const more = offset + maxResults < selected.length;
    const updated =
      (account.events ?? [])
        .map((e) => e.updated ?? '')
        .sort()
        .at(-1) || new Date().toISOString();
    const body: Record<string, unknown> = {
      kind: 'calendar#events',
      etag: `"${createHash('sha256').update(JSON.stringify(items)).digest('hex').slice(0, 16)}"`,
      summary: account.email ?? account.sub,
      description: '',
      updated,
      timeZone: account.timeZone ?? 'UTC',
      accessRole: 'owner',
      defaultReminders: [{ method: 'popup', minutes: 10 }],
    };
    if (more) body.nextPageToken = encodePageToken(offset + maxResults, print);
    else body.nextSyncToken = `CP${randomToken(12)}=`;
    body.items = items;
    return { status: 200, body };
  }

  /** GET drive files: `q`, `orderBy`, `pageSize`, page tokens and the `fields` mask, as Drive v3 has them. */
  private driveFiles(req: SimRequest): SimResponse {
    const account = this.authenticate(req);
    if ('status' in account) return account;
    const pageSize = intParam(req.query, 'pageSize', 100);
    if (!(pageSize >= 1 && pageSize <= 1000))
      return invalidParameter('pageSize', `Invalid value '${req.query.get('pageSize')}'. Values must be within the range: [1, 1000]`);
    const predicate = driveQuery(req.query.get('q') ?? '');
    if (!predicate) return invalidParameter('q');
    const mask = parseFieldMask(req.query.get('fields') ?? 'kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)');
    if (typeof mask === 'string') {
      const message = `Invalid field selection ${mask}`;
      return { status: 400, body: googleError(400, message, { reason: 'invalidParameter', message, locationType: 'parameter', location: 'fields' }) };
    }
    const files = (account.files ?? []).filter(predicate);
    if (!sortFiles(files, req.query.get('orderBy'))) return invalidParameter('orderBy');
    const offset = decodePageToken(req.query.get('pageToken'), fingerprint(req.query, ['q', 'orderBy']));
    if (offset === undefined) return invalidParameter('pageToken');
    const page = files.slice(offset, offset + pageSize);
    const next = offset + pageSize < files.length ? encodePageToken(offset + pageSize, fingerprint(req.query, ['q', 'orderBy'])) : undefined;
    const full: Record<string, unknown> = { kind: 'drive#fileList', incompleteSearch: false, nextPageToken: next };
    const all = mask.get('*') ?? mask.get('files');
    full.files = page.map((file) => pick({ kind: 'drive#file', ...file }, all === '*' || all === undefined ? undefined : all));
    const body = mask.has('*') ? full : pick(full, [...mask.keys()]);
    return { status: 200, body };
  }
}

/** Sorts files by a Drive `orderBy` (keys with optional ` desc`); false when a key is unsupported. */
function sortFiles(files: GoogleFile[], orderBy: string | null): boolean {
  if (!orderBy) return true;
  const keys = orderBy.split(',').map((k) => k.trim().split(/\s+/));
  if (!keys.every(([key, dir]) => ['name', 'modifiedTime', 'createdTime', 'folder'].includes(key ?? '') && (!dir || dir === 'desc'))) return false;
  const value = (file: GoogleFile, key: string): string =>
    key === 'folder' ? String(file.mimeType !== 'application/vnd.google-apps.folder') : text(file[key]);
  files.sort((a, b) => {
    for (const [key = '', dir] of keys) {
      const order = value(a, key).localeCompare(value(b, key));
      if (order !== 0) return dir === 'desc' ? -order : order;
    }
    return 0;
  });
  return true;
}

/** Keeps only the named keys that are present (every key when `keys` is undefined). */
function pick(source: Record<string, unknown>, keys: string[] | undefined): Record<string, unknown> {
  const entries = Object.entries(source).filter(([k, v]) => v !== undefined && (!keys || keys.includes(k)));
  return Object.fromEntries(entries);
}

/** A field value as text for filtering: strings as they are, numbers and booleans printed, anything else empty. */
function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}
