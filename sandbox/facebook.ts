import { createHmac, timingSafeEqual } from 'node:crypto';
import { bearerToken, type SimRequest, type SimResponse } from './http.js';
import { ProviderSimulator } from './provider-simulator.js';
import { intParam, randomToken, type AccessRecord } from './provider-tokens.js';

/**
 * Simulated Facebook Graph API (docs/upstream-apis.md#facebook): `/me`, `/me/friends`, the long-lived
 * token exchange and `debug_token`, under any `/vNN.N` prefix. Facebook has no refresh tokens, so
 * an expired token can only be answered with code 190: that is what makes the gateway ask the user
 * to log in again, and what tests check.
 */

/** A Facebook user as the fake knows it. */
export interface FacebookAccount {
  /** App-scoped user id (a numeric string). */
  id: string;
  name?: string;
  email?: string;
  pictureUrl?: string;
  /** Friends who also use the app: the only ones `/me/friends` lists. */
  friends?: { id: string; name: string }[];
  /** The user's total friend count for `summary.total_count`; default the listed friends' count. */
  totalFriendCount?: number;
}

/** Options of the fake app; `requireAppSecretProof` mirrors the app setting "Require App Secret". */
export interface FacebookOptions {
  appId?: string;
  appSecret?: string;
  requireAppSecretProof?: boolean;
}

const LONG_LIVED = 5183944;
const VERSION = '(?:/(v\\d+\\.\\d+))?';
const REVOKED = {
  458: 'The user has not authorized application {app}.',
  460: 'The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.',
  467: 'The session is invalid because the user logged out.',
};
const ME_FIELDS = new Set(['id', 'name', 'email', 'picture', 'first_name', 'last_name', 'short_name']);

/** A Graph API error body (`OAuthException` unless told otherwise) with a fresh `fbtrace_id`. */
function graphError(code: number, message: string, type = 'OAuthException', subcode?: number): Record<string, unknown> {
  const error: Record<string, unknown> = { message, type, code };
  if (subcode !== undefined) error.error_subcode = subcode;
  error.fbtrace_id = `A${randomToken(8).replace(/[-_]/g, 'x')}`;
  return { error };
}

/** Facebook's throttling bodies (codes 4, 17, 32, 613; HTTP 400), for tests that inject them as faults. */
export function facebookRateLimitBody(code: 4 | 17 | 32 | 613): unknown {
  const messages = {
    4: '(#4) Application request limit reached',
    17: '(#17) User request limit reached',
    32: '(#32) Page request limit reached',
    613: '(#613) Calls to this api have exceeded the rate limit.',
  };
  return graphError(code, messages[code]);
}

/** Facebook's wording of a moment, e.g. "Thursday, 10-Dec-15 04:00:00 PST" (Pacific time, as its servers print). */
function facebookTime(ms: number): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: 'America/Los_Angeles',
      weekday: 'long',
      day: '2-digit',
      month: 'short',
      year: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    })
      .formatToParts(ms)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.weekday}, ${parts.day}-${parts.month}-${parts.year} ${parts.hour}:${parts.minute}:${parts.second} ${parts.timeZoneName}`;
}

/** Splits a `fields` list at top-level commas, so `picture{url,width}` stays one field. */
function splitFields(fields: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of fields) {
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
      continue;
    }
    if (ch === '{' || ch === '(') depth++;
    if (ch === '}' || ch === ')') depth--;
    current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/**
 * The simulated Facebook. Route names (call counters): `me`, `friends`, `exchange`, `debugToken`.
 * Accounts are keyed by their app-scoped id. `issueTokens` issues a long-lived user token (≈60 days
 * by default) and never a refresh token, whatever its options say; `expireAccessTokens` makes every
 * token of the account fail with subcode 463 from then on.
 * Caution: `revokeRefreshTokens` de-authorizes the app for the user (there are no refresh tokens),
 * so every token of the account then fails with code 190 subcode 458.
 */
export class FakeFacebook extends ProviderSimulator<FacebookAccount, 'id'> {
  readonly appId: string;
  readonly appSecret: string;
  readonly options: FacebookOptions;
  /** Overrides the computed `X-App-Usage` percentages, e.g. to show the gateway a nearly exhausted app. */
  appUsage: { call_count: number; total_time: number; total_cputime: number } | undefined;
  /** Calls per rolling hour that count as 100% in `X-App-Usage`; high so long test runs never look throttled. */
  hourlyCallBudget = 10_000;
  private callTimes: number[] = [];
  /** Why each account's tokens were last invalidated (a code 190 subcode). */
  private readonly revocations = new Map<string, 458 | 460 | 467>();

  constructor(options: FacebookOptions = {}) {
    super({
      provider: 'FakeFacebook',
      key: 'id',
      accessLifetime: LONG_LIVED,
      refreshTokens: false,
      mint: { access: () => `EAAG${randomToken(150).replace(/[-_]/g, 'Z')}`, refresh: () => '' },
    });
    this.appId = options.appId ?? '138483919580948';
    this.appSecret = options.appSecret ?? randomToken(24);
    this.options = options;
    this.route('me', 'GET', new RegExp(`^${VERSION}/me/?$`), (req) => this.api(req, (account) => this.me(account, req)));
    this.route('friends', 'GET', new RegExp(`^${VERSION}/(me|\\d+)/friends/?$`), (req) => this.api(req, (account) => this.friends(account, req)));
    this.route('exchange', 'GET', new RegExp(`^${VERSION}/oauth/access_token$`), (req) => this.withUsage(this.exchange(req)));
    this.route('debugToken', 'GET', new RegExp(`^${VERSION}/debug_token$`), (req) => this.withUsage(this.debugToken(req)));
  }

  /** The stored account, so tests can edit it in place. */
  account(id: string): FacebookAccount | undefined {
    return this.accounts.get(id);
  }

  /** De-authorizes the app for the user: every token issued so far fails with subcode 458. */
  override revokeRefreshTokens(accountId: string): void {
    this.invalidateTokens(accountId, 458);
  }

  /** Kills every token issued so far for another code 190 reason: 460 password changed, 467 logged out. */
  invalidateTokens(accountId: string, subcode: 458 | 460 | 467): void {
    this.book.revokeAccess(accountId);
    this.revocations.set(accountId, subcode);
  }

  /** The appsecret_proof a server must send with `token` (hex HMAC-SHA256 keyed by the app secret). */
  appSecretProof(token: string): string {
    return createHmac('sha256', this.appSecret).update(token).digest('hex');
  }

  /** Adds `X-App-Usage`, which every Graph response carries. */
  private withUsage(answer: SimResponse): SimResponse {
    const now = Date.now();
    this.callTimes = this.callTimes.filter((t) => t > now - 3_600_000);
    this.callTimes.push(now);
    const percent = Math.min(100, Math.ceil((this.callTimes.length * 100) / this.hourlyCallBudget));
    const usage = this.appUsage ?? { call_count: percent, total_time: Math.floor(percent / 2), total_cputime: Math.floor(percent / 2) };
    return { ...answer, headers: { ...answer.headers, 'X-App-Usage': JSON.stringify(usage) } };
  }

  /** Runs a user-token API call: token from header or query, then the appsecret_proof check. */
  private api(req: SimRequest, handler: (account: FacebookAccount) => SimResponse): SimResponse {
    const token = bearerToken(req) ?? req.query.get('access_token') ?? undefined;
    const check = this.book.checkAccess(token);
    if (check.state !== 'valid') return this.withUsage(this.tokenError(check));
    const account = this.accounts.get(check.record.accountId);
    if (!account) return this.withUsage(this.tokenError({ state: 'unknown' }));
    const proof = req.query.get('appsecret_proof');
    const expected = Buffer.from(this.appSecretProof(token ?? ''));
    if (proof !== null && (proof.length !== expected.length || !timingSafeEqual(Buffer.from(proof), expected))) {
      return this.withUsage({ status: 400, body: graphError(100, 'Invalid appsecret_proof provided in the API argument', 'GraphMethodException') });
    }
    if (proof === null && this.options.requireAppSecretProof) {
      return this.withUsage({ status: 400, body: graphError(100, 'API calls from the server require an appsecret_proof argument', 'GraphMethodException') });
    }
    return this.withUsage(handler(account));
  }

  /** The code 190 family (or 2500 without a token), HTTP 400 with the `WWW-Authenticate` header. */
  private tokenError(check: { state: 'missing' | 'unknown' } | { state: 'expired' | 'revoked'; record: AccessRecord }): SimResponse {
    if (check.state === 'missing') {
      return { status: 400, body: graphError(2500, 'An active access token must be used to query information about the current user.') };
    }
    let body: Record<string, unknown>;
    if (check.state === 'expired') {
      const message = `Error validating access token: Session has expired on ${facebookTime(check.record.expiresAt)}. The current time is ${facebookTime(Date.now())}.`;
      body = graphError(190, message, 'OAuthException', 463);
    } else if (check.state === 'revoked') {
      const subcode = this.revocations.get(check.record.accountId) ?? 458;
      body = graphError(190, `Error validating access token: ${REVOKED[subcode].replace('{app}', this.appId)}`, 'OAuthException', subcode);
    } else {
      body = graphError(190, 'Invalid OAuth access token - Cannot parse access token');
    }
    const message = String((body.error as { message: string }).message).replace(/"/g, "'");
    return { status: 400, headers: { 'WWW-Authenticate': `OAuth "Facebook Platform" "invalid_token" "${message}"` }, body };
  }

  /** GET /me: only the requested fields (default id,name); email only when the account has one. */
  private me(account: FacebookAccount, req: SimRequest): SimResponse {
    const body: Record<string, unknown> = {};
    for (const field of splitFields(req.query.get('fields') ?? 'id,name')) {
      const name = /^[a-z_]+/.exec(field)?.[0] ?? field;
      if (!ME_FIELDS.has(name)) {
        return { status: 400, body: graphError(100, `(#100) Tried accessing nonexisting field (${name}) on node type (User)`) };
      }
      const [first = '', ...rest] = (account.name ?? '').split(' ');
      const values: Record<string, unknown> = {
        id: account.id,
        name: account.name,
        email: account.email,
        picture: this.picture(account, field),
        first_name: first || undefined,
        last_name: rest.join(' ') || undefined,
        short_name: first || undefined,
      };
      if (values[name] !== undefined) body[name] = values[name];
    }
    return { status: 200, body };
  }

  /** The `picture` field, honouring `.width(N)`/`.height(N)` modifiers and a `{...}` sub-selection. */
  private picture(account: FacebookAccount, field: string): unknown {
    const width = Number(/\.width\((\d+)\)/.exec(field)?.[1] ?? /\.height\((\d+)\)/.exec(field)?.[1] ?? 50);
    const height = Number(/\.height\((\d+)\)/.exec(field)?.[1] ?? width);
    const url =
      account.pictureUrl ??
      `https://platform-lookaside.fbsbx.com/platform/profilepic/?asid=${account.id}&height=${height}&width=${width}&ext=${Math.floor(Date.now() / 1000) + 2592000}&hash=Ae${randomToken(12)}`;
    const data: Record<string, unknown> = { height, is_silhouette: false, url, width };
    const sub = /\{([^}]*)\}/
      .exec(field)?.[1]
      ?.split(',')
      .map((s) => s.trim());
    return { data: sub ? Object.fromEntries(Object.entries(data).filter(([k]) => sub.includes(k))) : data };
  }

  /** GET /me/friends: cursor paging, cursors are base64 friend ids, `next` absent on the last page. */
  private friends(account: FacebookAccount, req: SimRequest): SimResponse {
    const target = req.params[1];
    if (target !== 'me' && target !== account.id) {
      return {
        status: 400,
        body: graphError(
          100,
          `(#100) Unsupported get request. Object with ID '${target}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.`,
          'GraphMethodException',
        ),
      };
    }
    const friends = account.friends ?? [];
    const limit = intParam(req.query, 'limit', 25);
    if (!(limit >= 1)) return { status: 400, body: graphError(100, '(#100) The parameter limit must be a positive integer') };
    const cursor = (id: string): string => Buffer.from(id).toString('base64');
    const indexOf = (c: string): number => friends.findIndex((f) => cursor(f.id) === c);
    const after = req.query.get('after');
    const before = req.query.get('before');
    let start = 0;
    let end = Math.min(friends.length, limit);
    if (after !== null || before !== null) {
      const at = indexOf(after ?? before ?? '');
      if (at < 0) return { status: 400, body: graphError(100, '(#100) Invalid cursor') };
      [start, end] = after !== null ? [at + 1, Math.min(friends.length, at + 1 + limit)] : [Math.max(0, at - limit), at];
    }
    const data = friends.slice(start, end).map((f) => ({ name: f.name, id: f.id }));
    const summary = { total_count: account.totalFriendCount ?? friends.length };
    if (data.length === 0) return { status: 200, body: { data, summary } };
    const first = data[0]?.id ?? '';
    const last = data.at(-1)?.id ?? '';
    const base = `${this.origin}/${req.params[0] || 'v26.0'}/${account.id}/friends?limit=${limit}`;
    const paging: Record<string, unknown> = { cursors: { before: cursor(first), after: cursor(last) } };
    if (start > 0) paging.previous = `${base}&before=${encodeURIComponent(cursor(first))}`;
    if (end < friends.length) paging.next = `${base}&after=${encodeURIComponent(cursor(last))}`;
    return { status: 200, body: { data, paging, summary } };
  }

  /** GET /oauth/access_token?grant_type=fb_exchange_token: a fresh long-lived token for a still valid one. */
  private exchange(req: SimRequest): SimResponse {
    const q = req.query;
    if (q.get('grant_type') !== 'fb_exchange_token') {
      return { status: 400, body: graphError(100, 'Missing redirect_uri parameter.') };
    }
    if (q.get('client_id') !== this.appId) return { status: 400, body: graphError(101, 'Error validating application. Invalid application ID.') };
    if (q.get('client_secret') !== this.appSecret) return { status: 400, body: graphError(1, 'Error validating client secret.') };
    const check = this.book.checkAccess(q.get('fb_exchange_token') ?? undefined);
    if (check.state !== 'valid') return this.tokenError(check);
    const access_token = this.book.issueAccess(check.record.accountId, LONG_LIVED);
    return { status: 200, body: { access_token, token_type: 'bearer', expires_in: LONG_LIVED } };
  }

  /** GET /debug_token: metadata of `input_token`, inspected with the app token `{app-id}|{app-secret}`. */
  private debugToken(req: SimRequest): SimResponse {
    const appToken = bearerToken(req) ?? req.query.get('access_token');
    if (appToken !== `${this.appId}|${this.appSecret}`) return { status: 400, body: graphError(190, 'Invalid OAuth access token signature.') };
    const check = this.book.checkAccess(req.query.get('input_token') ?? undefined);
    if (check.state === 'missing') return { status: 400, body: graphError(100, 'The parameter input_token is required') };
    if (check.state === 'unknown') return { status: 400, body: graphError(190, 'Invalid OAuth access token - Cannot parse access token') };
    const { record } = check;
    const data: Record<string, unknown> = {
      app_id: this.appId,
      type: 'USER',
      application: 'Sandbox App',
      data_access_expires_at: Math.floor(record.issuedAt / 1000) + 90 * 86400,
      expires_at: Math.floor(record.expiresAt / 1000),
      is_valid: check.state === 'valid',
      issued_at: Math.floor(record.issuedAt / 1000),
      scopes: ['email', 'public_profile', 'user_friends'],
      user_id: record.accountId,
    };
    if (check.state !== 'valid') {
      const failure = this.tokenError(check).body as { error: { message: string; error_subcode: number } };
      data.error = { code: 190, message: failure.error.message, subcode: failure.error.error_subcode };
    }
    return { status: 200, body: { data } };
  }
}
