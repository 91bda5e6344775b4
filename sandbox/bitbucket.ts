import { basicCredentials, bearerToken, parseFormOrJson, type SimRequest, type SimResponse } from './http.js';
import { ProviderSimulator } from './provider-simulator.js';
import { answerAfter, intParam, randomToken } from './provider-tokens.js';

/**
 * Simulated Bitbucket Cloud (docs/upstream-apis.md#bitbucket): the Basic-authenticated token
 * endpoint with both refresh-token regimes (the rotating one enforced since 2026-05-04 and the
 * legacy reusable one), `/2.0/user`, `/2.0/user/workspaces`, per-workspace repositories and the
 * 410s of the removed cross-workspace endpoints. Rotation has teeth here: presenting a used refresh token after the
 * grace period revokes its whole family, and `familyRevocations` lets tests prove that never happened.
 */

/** A raw repository object as `/2.0/repositories/{workspace}` returns it. */
export type BitbucketRepository = Record<string, unknown> & {
  name: string;
  full_name: string;
  is_private: boolean;
  updated_on: string;
  links: Record<string, unknown> & { html: { href: string } };
};

/** Roles of `?role=`, weakest first; an account's role in a workspace implies the weaker ones. */
const ROLES = ['member', 'contributor', 'admin', 'owner'] as const;

/** A workspace the account belongs to, with the account's role there (default `member`). */
export interface BitbucketWorkspace {
  uuid: string;
  slug: string;
  name: string;
  role?: (typeof ROLES)[number];
}

/** A Bitbucket user as the fake knows it. */
export interface BitbucketAccount {
  /** With curly braces, as Bitbucket prints it. */
  uuid: string;
  accountId: string;
  nickname: string;
  displayName: string;
  avatarUrl?: string;
  createdOn?: string;
  workspaces: BitbucketWorkspace[];
  /** Repositories per workspace slug. */
  repositories: Record<string, BitbucketRepository[]>;
}

/** Options of the fake; mutable through `options` so a test can switch regime mid-run. */
export interface BitbucketOptions {
  clientId?: string;
  clientSecret?: string;
  mode?: 'rotating' | 'legacy';
  /** How long a used refresh token may be presented again (Atlassian: about 10 minutes). */
  reuseGraceMs?: number;
  /**
   * Holds every token answer this long after the grant took effect (the refresh token is already
   * rotated): a client that dies meanwhile never learns the new pair. 0 by default.
   */
  answerDelayMs?: number;
}

const ACCESS_LIFETIME = 7200;
const SCOPE = 'account repository pullrequest';
const CHANGE_2770 = { announcement_url: 'https://developer.atlassian.com/cloud/bitbucket/changelog#CHANGE-2770' };

/** Bitbucket's error envelope `{type: 'error', error: {message}}`. */
function bbError(status: number, message: string, extra: Record<string, unknown> = {}): SimResponse {
  return { status, body: { type: 'error', error: { message, ...extra } } };
}

/**
 * The simulated Bitbucket. Route names (call counters): `token`, `user`, `userWorkspaces`,
 * `repositories`, `repositoriesGone`, `workspacesGone`. Accounts are keyed by their braced uuid;
 * `issueTokens` gives a 2-hour access token and a refresh token (a new family) by default.
 */
export class FakeBitbucket extends ProviderSimulator<BitbucketAccount, 'uuid'> {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly options: { mode: 'rotating' | 'legacy'; reuseGraceMs: number; answerDelayMs: number };
  /** How many token families were revoked for refresh-token reuse. */
  familyRevocations = 0;
  /** How many refresh grants took effect (a new access token issued), whether or not the answer reached the client. */
  grantsTaken = 0;

  constructor(options: BitbucketOptions = {}) {
    // Built before `super` so the mint can read the regime a test may switch mid-run through `options`.
    const settings = { mode: options.mode ?? 'rotating', reuseGraceMs: options.reuseGraceMs ?? 600_000, answerDelayMs: options.answerDelayMs ?? 0 };
    // Post-2026 tokens are large (often over 2500 characters); legacy ones were short.
    const mint = (): string => randomToken(settings.mode === 'rotating' ? 1950 : 48);
    super({ provider: 'FakeBitbucket', key: 'uuid', accessLifetime: ACCESS_LIFETIME, refreshTokens: true, mint: { access: mint, refresh: mint } });
    this.options = settings;
    this.clientId = options.clientId ?? randomToken(14).replace(/[-_]/g, 'x').slice(0, 18);
    this.clientSecret = options.clientSecret ?? randomToken(24);
    this.route('token', 'POST', /^\/site\/oauth2\/access_token$/, (req) => answerAfter(this.token(req), this.options.answerDelayMs));
    this.route('user', 'GET', /^\/2\.0\/user\/?$/, (req) => this.api(req, (a) => this.user(a)));
    this.route('userWorkspaces', 'GET', /^\/2\.0\/user\/workspaces\/?$/, (req) => this.api(req, (a) => this.workspaces(a, req)));
    this.route('repositories', 'GET', /^\/2\.0\/repositories\/([^/]+)\/?$/, (req) => this.api(req, (a) => this.repositories(a, req)));
    const gone = (): SimResponse => ({
      status: 410,
      body: {
        type: 'error',
        error: { message: 'CHANGE-2770 - Functionality has been deprecated', detail: 'Please read the changelog entry for more details.', data: CHANGE_2770 },
        data: CHANGE_2770,
      },
    });
    this.route('repositoriesGone', 'GET', /^\/2\.0\/repositories\/?$/, gone);
    this.route('workspacesGone', 'GET', /^\/2\.0\/workspaces\/?$/, gone);
  }

  /** The stored account, so tests can edit it in place. */
  account(uuid: string): BitbucketAccount | undefined {
    return this.accounts.get(uuid);
  }

  /** POST /site/oauth2/access_token: Basic client auth only, refresh grant in either regime. */
  private token(req: SimRequest): SimResponse {
    const headers = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
    const fail = (status: number, error: string, description: string, extra: Record<string, string> = {}): SimResponse => ({
      status,
      headers: { ...headers, ...extra },
      body: { error, error_description: description },
    });
    const client = basicCredentials(req);
    if (!client || client.id !== this.clientId || client.secret !== this.clientSecret) {
      return fail(401, 'invalid_client', 'Invalid client credentials', client ? { 'WWW-Authenticate': 'Basic realm="Bitbucket.org HTTP"' } : {});
    }
    const form = parseFormOrJson(req);
    if (form.grant_type !== 'refresh_token') return fail(400, 'invalid_grant', `Unsupported grant type: ${form.grant_type || 'None'}`);
    const presented = form.refresh_token ?? '';
    const record = this.book.refreshRecord(presented);
    if (!record || record.revoked) return fail(400, 'invalid_grant', 'Invalid refresh_token');
    const now = Date.now();
    let refresh_token = presented;
    if (this.options.mode === 'rotating') {
      if (record.firstUsedAt !== undefined && now - record.firstUsedAt >= this.options.reuseGraceMs) {
        this.book.revokeFamily(record.family);
        this.familyRevocations++;
        return fail(400, 'invalid_grant', 'Invalid refresh_token');
      }
      refresh_token = this.book.issueRefresh(record.accountId, record.family);
    }
    record.firstUsedAt ??= now;
    this.grantsTaken++;
    const access_token = this.book.issueAccess(record.accountId, ACCESS_LIFETIME, record.family);
    const scopeField = this.options.mode === 'rotating' ? { scope: SCOPE } : { scopes: SCOPE };
    return {
      status: 200,
      headers,
      body: { access_token, ...scopeField, expires_in: ACCESS_LIFETIME, refresh_token, token_type: 'bearer', state: 'refresh_token' },
    };
  }

  /** Runs an API call for the account of the bearer token; tokens elsewhere than the header are refused. */
  private api(req: SimRequest, handler: (account: BitbucketAccount) => SimResponse): SimResponse {
    const token = bearerToken(req);
    if (!token && !req.query.has('access_token')) {
      return bbError(
        401,
        'This API is only accessible with the following authentication types: session, password, apppassword, repoaccesstoken, workspaceaccesstoken, projectaccesstoken',
      );
    }
    const check = this.book.checkAccess(token);
    if (check.state === 'expired') return bbError(401, 'Access token expired.');
    const account = check.state === 'valid' ? this.accounts.get(check.record.accountId) : undefined;
    if (!account) return bbError(401, 'Token is invalid, expired, or not supported for this endpoint.');
    return handler(account);
  }

  /** GET /2.0/user: the account, its uuid in curly braces. */
  private user(account: BitbucketAccount): SimResponse {
    const id = encodeURIComponent(account.uuid);
    return {
      status: 200,
      body: {
        type: 'user',
        uuid: account.uuid,
        account_id: account.accountId,
        nickname: account.nickname,
        display_name: account.displayName,
        account_status: 'active',
        has_2fa_enabled: null,
        is_staff: false,
        created_on: account.createdOn ?? '2019-03-01T10:00:00.000000+00:00',
        location: null,
        links: {
          self: { href: `${this.origin}/2.0/users/${id}` },
          avatar: { href: account.avatarUrl ?? `https://secure.gravatar.com/avatar/${randomToken(16)}?d=mm` },
          html: { href: `https://bitbucket.org/${id}/` },
        },
      },
    };
  }

  /** GET /2.0/user/workspaces: the CHANGE-3022 replacement listing workspace-access objects. */
  private workspaces(account: BitbucketAccount, req: SimRequest): SimResponse {
    const values = account.workspaces.map((w) => ({
      type: 'workspace_access',
      administrator: w.role === 'admin' || w.role === 'owner',
      workspace: {
        type: 'workspace',
        uuid: w.uuid,
        slug: w.slug,
        name: w.name,
        links: {
          avatar: { href: `https://bitbucket.org/workspaces/${w.slug}/avatar/?ts=0` },
          html: { href: `https://bitbucket.org/${w.slug}/` },
          self: { href: `${this.origin}/2.0/workspaces/${w.slug}` },
        },
      },
      links: { self: { href: `${this.origin}/2.0/user/workspaces/${w.slug}` } },
    }));
    return this.paginate(req, values);
  }

  /** GET /2.0/repositories/{workspace}: `role`, `sort` and paging; 404 outside the account's workspaces. */
  private repositories(account: BitbucketAccount, req: SimRequest): SimResponse {
    const ref = req.params[0] ?? '';
    const workspace = account.workspaces.find((w) => w.slug === ref || w.uuid === ref);
    if (!workspace) return bbError(404, `No workspace with identifier '${ref}'.`);
    const role = req.query.get('role');
    const rank = (r: string | null | undefined): number => ROLES.indexOf((r ?? 'member') as (typeof ROLES)[number]);
    if (role !== null && rank(role) < 0) return bbError(400, `Invalid role: ${role}`);
    let values = rank(workspace.role) >= rank(role) ? [...(account.repositories[workspace.slug] ?? [])] : [];
    const sort = req.query.get('sort');
    if (sort) {
      const field = sort.replace(/^-/, '');
      if (!values.every((r) => field in r)) return bbError(400, `Invalid field name: ${field}`);
      const dir = sort.startsWith('-') ? -1 : 1;
      values = values.sort((a, b) => dir * String(a[field]).localeCompare(String(b[field])));
    }
    return this.paginate(req, values);
  }

  /** The paging envelope `{pagelen, page, size, next?, previous?, values}` with absolute `next` URLs. */
  private paginate(req: SimRequest, all: unknown[]): SimResponse {
    const pagelen = intParam(req.query, 'pagelen', 10);
    const page = intParam(req.query, 'page', 1);
    if (!(pagelen >= 1 && pagelen <= 100)) return bbError(400, 'Invalid pagelen', { detail: 'pagelen must be between 1 and 100' });
    if (!(page >= 1) || (page > 1 && (page - 1) * pagelen >= all.length)) return bbError(404, 'Invalid page');
    const link = (n: number): string => {
      const query = new URLSearchParams(req.query);
      query.set('page', String(n));
      return `${this.origin}${req.path}?${query.toString()}`;
    };
    const body: Record<string, unknown> = { pagelen, page, size: all.length };
    if (page * pagelen < all.length) body.next = link(page + 1);
    if (page > 1) body.previous = link(page - 1);
    body.values = all.slice((page - 1) * pagelen, page * pagelen);
    return { status: 200, body };
  }
}
