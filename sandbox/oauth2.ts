import { basicCredentials, bearerToken, parseFormOrJson, type SimRequest, type SimResponse } from './http.js';
import { ProviderSimulator } from './provider-simulator.js';
import { answerAfter, intParam, randomToken } from './provider-tokens.js';

/**
 * A generic RFC 6749 provider, standing in for whatever sits behind an Auth0 custom OAuth2
 * connection (docs/upstream-apis.md#generic-oauth2): a refresh-grant token endpoint with
 * RFC 6749 §5.1/§5.2 answers and a small JSON API guarded per RFC 6750. Rotation is optional and
 * strict (RFC 9700): a rotated-out refresh token presented again revokes its whole family.
 */

/** An account of the generic provider: its profile (served at `/api/me`) and a list for `/api/items`. */
export interface OAuth2Account {
  id: string;
  profile?: Record<string, unknown>;
  items?: unknown[];
}

/** Options of the fake; `clientAuth` restricts client authentication to one method (default: either). */
export interface OAuth2Options {
  clientId?: string;
  clientSecret?: string;
  clientAuth?: 'post' | 'basic';
  rotate?: boolean;
  /**
   * Holds every token answer this long after the grant took effect (the refresh token is already
   * rotated): a client that dies meanwhile never learns the new pair.
   */
  answerDelayMs?: number;
}

/** A test-provided resource: fixed JSON, or a function `(account: OAuth2Account, query: URLSearchParams) => unknown` computed per request. */
export type OAuth2Resource = unknown;

const ACCESS_LIFETIME = 3600;
const SCOPE = 'profile items:read';
const REALM = 'sandbox-oauth2';
const ITEMS_PER_PAGE = 5;
const TOKEN_HEADERS = { 'Content-Type': 'application/json;charset=UTF-8', 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/** An RFC 6749 §5.2 error answer. */
function tokenError(status: number, error: string, description: string): SimResponse {
  return { status, headers: { ...TOKEN_HEADERS }, body: { error, error_description: description } };
}

/**
 * The simulated generic provider. Route names (call counters): `token`, `api`. Accounts are keyed
 * by `id`; `issueTokens` gives a 1-hour access token and a refresh token by default.
 * Caution: `addResource` paths are shared by every account.
 */
export class FakeOAuth2 extends ProviderSimulator<OAuth2Account, 'id'> {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly options: OAuth2Options;
  /** How many token families were revoked for refresh-token reuse (only with `rotate`). */
  familyRevocations = 0;
  /** How many refresh grants took effect (a new access token issued), whether or not the answer reached the client. */
  grantsTaken = 0;
  private readonly resources = new Map<string, OAuth2Resource>();

  constructor(options: OAuth2Options = {}) {
    super({
      provider: 'FakeOAuth2',
      key: 'id',
      accessLifetime: ACCESS_LIFETIME,
      refreshTokens: true,
      mint: { access: () => `o2at-${randomToken(32)}`, refresh: () => `o2rt-${randomToken(32)}` },
    });
    this.clientId = options.clientId ?? 'sandbox-oauth2-client';
    this.clientSecret = options.clientSecret ?? randomToken(24);
    this.options = options;
    this.route('token', 'POST', /^\/oauth\/token$/, (req) => answerAfter(this.token(req), this.options.answerDelayMs ?? 0));
    // The Microsoft identity platform's shape of the same grant: /<tenant>/oauth2/v2.0/token
    // (docs/upstream-apis.md#microsoft).
    this.route('tenantToken', 'POST', /^\/([^/]+)\/oauth2\/v2\.0\/token$/, (req) => answerAfter(this.token(req), this.options.answerDelayMs ?? 0));
    this.route('api', 'GET', /^\/api\/(.+)$/, (req) => this.api(req));
  }

  /** Serves arbitrary JSON at `/api/<path>` (e.g. an oversized body, when a test asks for one). */
  addResource(path: string, json: OAuth2Resource): void {
    this.resources.set(path.replace(/^\/+/, ''), json);
  }

  /** Authenticates the client per RFC 6749 §2.3.1; undefined when fine, else the RFC 6749 §5.2 answer. */
  private authenticateClient(req: SimRequest, form: Record<string, string>): SimResponse | undefined {
    const basic = basicCredentials(req);
    const posted = form.client_secret !== undefined;
    if (basic && posted) return tokenError(400, 'invalid_request', 'Use only one client authentication method');
    const allowed = this.options.clientAuth;
    const usable = (basic && allowed !== 'post') || (posted && allowed !== 'basic');
    const id = basic?.id ?? form.client_id;
    const secret = basic?.secret ?? form.client_secret;
    if (usable && id === this.clientId && secret === this.clientSecret) return undefined;
    const answer = tokenError(401, 'invalid_client', 'Client authentication failed');
    if (basic) answer.headers = { ...answer.headers, 'WWW-Authenticate': `Basic realm="${REALM}"` };
    return answer;
  }

  /** POST /oauth/token: the refresh grant (RFC 6749 §6) with optional strict rotation. */
  private token(req: SimRequest): SimResponse {
    const form = parseFormOrJson(req);
    const clientProblem = this.authenticateClient(req, form);
    if (clientProblem) return clientProblem;
    if (!form.grant_type) return tokenError(400, 'invalid_request', 'Missing grant_type');
    if (form.grant_type !== 'refresh_token') return tokenError(400, 'unsupported_grant_type', `Unsupported grant_type ${form.grant_type}`);
    if (!form.refresh_token) return tokenError(400, 'invalid_request', 'Missing refresh_token');
    const granted = SCOPE.split(' ');
    if (form.scope && !form.scope.split(' ').every((s) => granted.includes(s))) {
      return tokenError(400, 'invalid_scope', 'The requested scope exceeds the original grant');
    }
    const record = this.book.refreshRecord(form.refresh_token);
    if (!record || record.revoked) return tokenError(400, 'invalid_grant', 'The refresh token is invalid, expired or revoked');
    if (this.options.rotate && record.firstUsedAt !== undefined) {
      this.book.revokeFamily(record.family);
      this.familyRevocations++;
      return tokenError(400, 'invalid_grant', 'The refresh token is invalid, expired or revoked');
    }
    record.firstUsedAt = Date.now();
    this.grantsTaken++;
    const body: Record<string, unknown> = {
      access_token: this.book.issueAccess(record.accountId, ACCESS_LIFETIME, record.family),
      token_type: 'Bearer',
      expires_in: ACCESS_LIFETIME,
    };
    if (this.options.rotate) body.refresh_token = this.book.issueRefresh(record.accountId, record.family);
    body.scope = form.scope ?? SCOPE;
    return { status: 200, headers: TOKEN_HEADERS, body };
  }

  /** GET /api/<path>: RFC 6750-guarded JSON for the token's account. */
  private api(req: SimRequest): SimResponse {
    const check = this.book.checkAccess(bearerToken(req));
    if (check.state === 'missing')
      return {
        status: 401,
        headers: { 'WWW-Authenticate': `Bearer realm="${REALM}"` },
        body: { error: 'invalid_request', error_description: 'No access token' },
      };
    const account = check.state === 'valid' ? this.accounts.get(check.record.accountId) : undefined;
    if (!account) {
      const description = check.state === 'expired' ? 'The access token expired' : 'The access token is invalid';
      const challenge = `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`;
      return { status: 401, headers: { 'WWW-Authenticate': challenge }, body: { error: 'invalid_token', error_description: description } };
    }
    const path = req.params[0] ?? '';
    const resource = this.resources.get(path);
    if (resource !== undefined) {
      const json: unknown = typeof resource === 'function' ? (resource as (a: OAuth2Account, q: URLSearchParams) => unknown)(account, req.query) : resource;
      return { status: 200, body: json };
    }
    if (path === 'me') return { status: 200, body: { id: account.id, ...account.profile } };
    if (path === 'items') return this.items(account, req);
    return { status: 404, body: { error: 'not_found', error_description: `No resource at /api/${path}` } };
  }

  /** GET /api/items?page=N: a small page-numbered list. */
  private items(account: OAuth2Account, req: SimRequest): SimResponse {
    const page = intParam(req.query, 'page', 1);
    if (!(page >= 1)) return { status: 400, body: { error: 'invalid_request', error_description: 'page must be a positive integer' } };
    const all = account.items ?? [];
    const items = all.slice((page - 1) * ITEMS_PER_PAGE, page * ITEMS_PER_PAGE);
    const next = page * ITEMS_PER_PAGE < all.length ? page + 1 : null;
    return { status: 200, body: { items, page, per_page: ITEMS_PER_PAGE, total: all.length, next_page: next } };
  }
}
