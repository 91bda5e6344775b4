import { GraphQLError, buildSchema, execute, parse, validate, type DocumentNode, type GraphQLFormattedError } from 'graphql';
import { bearerToken, parseFormOrJson, type SimRequest, type SimResponse } from './http.js';
import { ProviderSimulator } from './provider-simulator.js';
import { randomToken } from './provider-tokens.js';

/**
 * Simulated GitHub (docs/upstream-apis.md#github): the GraphQL endpoint `POST /graphql` running a
 * real graphql-js schema of the subset the gateway uses (real parsing, validation and execution,
 * partial data with GitHub's error shape `{type, path, locations, message}`), the rate-limit
 * headers on every answer and a per-account point budget that runs out (`RATE_LIMITED` with HTTP
 * 200), 401 "Bad credentials" for unknown, expired or revoked tokens, and the token endpoint
 * `POST /login/oauth/access_token` with single-use `ghr_` refresh tokens and its errors sent with
 * HTTP 200. OAuth-app tokens (`gho_`) never expire; GitHub-App user tokens (`ghu_`) live 8 hours.
 */

/** A repository as the fake stores it (the GraphQL field names). */
export interface GitHubRepository {
  id: string;
  nameWithOwner: string;
  description: string | null;
  isPrivate: boolean;
  url: string;
  createdAt: string;
  updatedAt: string;
  stargazerCount: number;
  /** Behind an organization's SAML enforcement the token was not granted: its node is null with a FORBIDDEN error. */
  samlProtected?: boolean;
}

/** A GitHub user as the fake knows it; `id` is the numeric user id Auth0 puts in `github|<id>`. */
export interface GitHubAccount {
  id: string;
  login: string;
  name: string | null;
  /** The public email; '' when private, as GitHub answers. */
  email: string;
  avatarUrl?: string;
  repositories: GitHubRepository[];
}

/** A rate-limit window of one account (GraphQL points). */
export interface RateWindow {
  limit: number;
  used: number;
  /** Epoch seconds. */
  resetAt: number;
}

/** Options of the fake. */
export interface GitHubOptions {
  clientId?: string;
  clientSecret?: string;
  /** Points per hour per account (GitHub: 5,000). */
  pointsPerHour?: number;
}

const APP_TOKEN_LIFETIME = 28_800;
const REFRESH_TOKEN_LIFETIME = 15_811_200;
// OAuth-app tokens do not expire; ten years stands for "never" in the book.
const OAUTH_TOKEN_LIFETIME = 10 * 365 * 86_400;
const DOCS = 'https://docs.github.com/graphql';
const ORDER_FIELDS: Record<string, keyof GitHubRepository> = {
  CREATED_AT: 'createdAt',
  UPDATED_AT: 'updatedAt',
  PUSHED_AT: 'updatedAt',
  NAME: 'nameWithOwner',
  STARGAZERS: 'stargazerCount',
};

/** The subset of GitHub's schema the gateway asks for, with GitHub's own nullability. */
const SCHEMA = buildSchema(`
  scalar URI
  scalar DateTime
  type Query { viewer: User! }
  type User {
    id: ID!
    databaseId: Int
    login: String!
    name: String
    email: String!
    avatarUrl(size: Int): URI!
    url: URI!
    repositories(first: Int, after: String, last: Int, before: String, orderBy: RepositoryOrder, privacy: RepositoryPrivacy): RepositoryConnection!
  }
  type RepositoryConnection { pageInfo: PageInfo! nodes: [Repository] edges: [RepositoryEdge] totalCount: Int! }
  type RepositoryEdge { cursor: String! node: Repository }
  type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
  type Repository { id: ID! name: String! nameWithOwner: String! description: String isPrivate: Boolean! url: URI! createdAt: DateTime! updatedAt: DateTime! stargazerCount: Int! }
  input RepositoryOrder { field: RepositoryOrderField! direction: OrderDirection! }
  enum RepositoryOrderField { CREATED_AT UPDATED_AT PUSHED_AT NAME STARGAZERS }
  enum OrderDirection { ASC DESC }
  enum RepositoryPrivacy { PUBLIC PRIVATE }
`);

/** A GraphQL error carrying GitHub's `type`. */
function typedError(type: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { type } });
}

/**
 * The simulated GitHub. Route names (call counters): `graphql`, `token`. Accounts are keyed by their
 * numeric id; `issueTokens` gives a GitHub-App user token (`ghu_`, 8 h) and a refresh token (`ghr_`),
 * `issueOAuthAppToken` an OAuth-app token (`gho_`) that never expires.
 */
export class FakeGitHub extends ProviderSimulator<GitHubAccount, 'id'> {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly options: { pointsPerHour: number };
  /** Every document received, with its variables (never a header), in order. */
  readonly documents: { query: string; variables: Record<string, unknown> }[] = [];
  /** Refresh grants that presented a refresh token already used once (GitHub refuses them). */
  reusedRefreshTokens = 0;
  private readonly windows = new Map<string, RateWindow>();
  private readonly mintState: { kind: 'app' | 'oauth' };

  constructor(options: GitHubOptions = {}) {
    const mintState: { kind: 'app' | 'oauth' } = { kind: 'app' };
    const alnum = (length: number) => randomToken(length).replace(/[-_]/g, 'x').slice(0, length);
    super({
      provider: 'FakeGitHub',
      key: 'id',
      accessLifetime: APP_TOKEN_LIFETIME,
      refreshTokens: true,
      mint: { access: () => `${mintState.kind === 'oauth' ? 'gho' : 'ghu'}_${alnum(36)}`, refresh: () => `ghr_${alnum(76)}` },
    });
    this.mintState = mintState;
    this.options = { pointsPerHour: options.pointsPerHour ?? 5000 };
    this.clientId = options.clientId ?? `Iv23li${alnum(14)}`;
    this.clientSecret = options.clientSecret ?? alnum(40);
    this.route('graphql', 'POST', /^\/graphql$/, (req) => this.graphql(req));
    this.route('token', 'POST', /^\/login\/oauth\/access_token$/, (req) => this.token(req));
  }

  /** The stored account, so tests can edit it in place. */
  account(id: string): GitHubAccount | undefined {
    return this.accounts.get(id);
  }

  /** An OAuth-app token (`gho_…`): no expiry, no refresh token. */
  issueOAuthAppToken(accountId: string): { access_token: string } {
    if (!this.accounts.has(accountId)) throw new Error(`FakeGitHub: no account with id ${accountId}`);
    this.mintState.kind = 'oauth';
    try {
      return { access_token: this.book.issueAccess(accountId, OAUTH_TOKEN_LIFETIME) };
    } finally {
      this.mintState.kind = 'app';
    }
  }

  /** Revokes every access token of the account (the user revoked the app), so the API answers 401. */
  revokeAccessTokens(accountId: string): void {
    this.book.revokeAccess(accountId);
  }

  /** The account's current rate-limit window (a new one when the last has reset); tests may edit it. */
  rateWindow(accountId: string): RateWindow {
    const now = Math.floor(Date.now() / 1000);
    let window = this.windows.get(accountId);
    if (!window || window.resetAt <= now) {
      window = { limit: this.options.pointsPerHour, used: 0, resetAt: now + 3600 };
      this.windows.set(accountId, window);
    }
    return window;
  }

  /** POST /graphql: authenticate, charge a point, then parse, validate and execute as GitHub does. */
  private graphql(req: SimRequest): SimResponse {
    const check = this.book.checkAccess(bearerToken(req));
    const account = check.state === 'valid' ? this.accounts.get(check.record.accountId) : undefined;
    if (!account) {
      const headers = rateHeaders({ limit: 0, used: 0, resetAt: Math.floor(Date.now() / 1000) + 3600 });
      const message = check.state === 'missing' ? 'This endpoint requires you to be authenticated.' : 'Bad credentials';
      return { status: 401, headers, body: { message, documentation_url: DOCS } };
    }
    const window = this.rateWindow(account.id);
    if (window.used >= window.limit) {
      return {
        status: 200,
        headers: rateHeaders(window),
        body: { errors: [{ type: 'RATE_LIMITED', message: `API rate limit exceeded for user ID ${account.id}.` }] },
      };
    }
    window.used += 1;
    const answer = this.run(req.body, account);
    return { status: answer.status, headers: rateHeaders(window), body: answer.body };
  }

  private run(text: string, account: GitHubAccount): { status: number; body: unknown } {
    let request: { query?: unknown; variables?: unknown };
    try {
      request = JSON.parse(text) as typeof request;
    } catch {
      return { status: 400, body: { message: 'Problems parsing JSON', documentation_url: DOCS } };
    }
    if (typeof request.query !== 'string') return { status: 200, body: { errors: [{ message: 'A query attribute must be specified and must be a string.' }] } };
    const variables = (typeof request.variables === 'object' && request.variables !== null ? request.variables : {}) as Record<string, unknown>;
    this.documents.push({ query: request.query, variables });
    let document: DocumentNode;
    try {
      document = parse(request.query);
    } catch (error) {
      const { message, locations } = error as GraphQLError;
      return { status: 200, body: { errors: [{ message: `Parse error: ${message.replace(/^Syntax Error: /, '')}`, locations }] } };
    }
    const invalid = validate(SCHEMA, document);
    if (invalid.length > 0) return { status: 200, body: { errors: invalid.map(validationError) } };
    const result = execute({ schema: SCHEMA, document, variableValues: variables, rootValue: { viewer: () => this.viewer(account) } });
    if (result instanceof Promise) throw new Error('FakeGitHub: execution must be synchronous');
    const body: Record<string, unknown> = { data: result.data ?? null };
    if (result.errors) body.errors = result.errors.map((error) => githubError(error.toJSON()));
    return { status: 200, body };
  }

  /** The viewer object graphql-js resolves against: plain fields plus `repositories(args)`. */
  private viewer(account: GitHubAccount): Record<string, unknown> {
    return {
      id: Buffer.from(`04:User${account.id}`).toString('base64'),
      databaseId: Number(account.id),
      login: account.login,
      name: account.name,
      email: account.email,
      avatarUrl: account.avatarUrl ?? `https://avatars.githubusercontent.com/u/${account.id}?v=4`,
      url: `https://github.com/${account.login}`,
      repositories: (args: Record<string, unknown>) => this.repositories(account, args),
    };
  }

  /** `repositories(first, after, orderBy, privacy)`: GitHub's paging rules and opaque cursors. */
  private repositories(account: GitHubAccount, args: Record<string, unknown>): Record<string, unknown> {
    const { first, after, last, orderBy, privacy } = args as {
      first?: number;
      after?: string;
      last?: number;
      orderBy?: { field: string; direction: string };
      privacy?: string;
    };
    if (first === undefined || first === null) {
      if (last === undefined || last === null)
        throw new GraphQLError('You must provide a `first` or `last` value to properly paginate the `repositories` connection.');
      throw new GraphQLError('The gateway fake supports `first` only.');
    }
    if (first < 0) throw new GraphQLError('`first` on the `repositories` connection cannot be less than zero.');
    if (first > 100) throw new GraphQLError(`Requesting ${first} records on the \`repositories\` connection exceeds the \`first\` limit of 100 records.`);
    let list = account.repositories.filter((r) => !privacy || r.isPrivate === (privacy === 'PRIVATE'));
    if (orderBy) {
      const field = ORDER_FIELDS[orderBy.field] ?? 'createdAt';
      const direction = orderBy.direction === 'DESC' ? -1 : 1;
      list = [...list].sort((a, b) => direction * compare(a[field], b[field]));
    }
    let start = 0;
    if (after !== undefined && after !== null) {
      const offset = cursorOffset(after);
      if (offset === undefined) throw typedError('INVALID_CURSOR_ARGUMENTS', `\`${after}\` does not appear to be a valid cursor.`);
      start = offset + 1;
    }
    const page = list.slice(start, start + first);
    const cursors = page.map((_, i) => cursorOf(start + i));
    const forbidden = (repository: GitHubRepository) =>
      typedError(
        'FORBIDDEN',
        `Resource protected by organization SAML enforcement. You must grant your OAuth token access to ${repository.nameWithOwner.split('/')[0]}.`,
      );
    const nodes = page.map((repository) =>
      repository.samlProtected ? forbidden(repository) : { ...repository, name: repository.nameWithOwner.split('/')[1] },
    );
    return {
      totalCount: list.length,
      pageInfo: { hasNextPage: start + first < list.length, hasPreviousPage: start > 0, startCursor: cursors[0] ?? null, endCursor: cursors.at(-1) ?? null },
      nodes,
      edges: nodes.map((node, i) => ({ cursor: cursors[i], node })),
    };
  }

  /** POST /login/oauth/access_token: client credentials and the refresh grant in the form; every error with HTTP 200. */
  private token(req: SimRequest): SimResponse {
    const json = String(req.headers.accept ?? '').includes('application/json');
    const answer = (fields: Record<string, string | number>): SimResponse =>
      json
        ? { status: 200, body: fields }
        : {
            status: 200,
            headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
            body: new URLSearchParams(Object.entries(fields).map(([k, v]) => [k, String(v)])).toString(),
          };
    const fail = (error: string, description: string, anchor: string) =>
      answer({
        error,
        error_description: description,
        error_uri: `https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#${anchor}`,
      });
    const form = parseFormOrJson(req);
    if (form.client_id !== this.clientId || form.client_secret !== this.clientSecret) {
      return fail('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.', 'incorrect-client-credentials');
    }
    if (form.grant_type !== 'refresh_token') return fail('unsupported_grant_type', 'The grant type is not supported.', 'unsupported-grant-type');
    const presented = form.refresh_token ?? '';
    const record = this.book.refreshRecord(presented);
    const expired = record !== undefined && record.issuedAt + REFRESH_TOKEN_LIFETIME * 1000 <= Date.now();
    if (record?.firstUsedAt !== undefined) this.reusedRefreshTokens++;
    if (!record || record.revoked || record.firstUsedAt !== undefined || expired) {
      return fail('bad_refresh_token', 'The refresh token passed is incorrect or expired.', 'bad-verification-code');
    }
    // Single use: the refresh token and the access tokens it stood beside die with this grant.
    record.firstUsedAt = Date.now();
    record.revoked = true;
    this.book.revokeFamily(record.family);
    const access_token = this.book.issueAccess(record.accountId, APP_TOKEN_LIFETIME, record.family);
    const refresh_token = this.book.issueRefresh(record.accountId, record.family);
    return answer({
      access_token,
      expires_in: APP_TOKEN_LIFETIME,
      refresh_token,
      refresh_token_expires_in: REFRESH_TOKEN_LIFETIME,
      scope: '',
      token_type: 'bearer',
    });
  }
}

/** The rate-limit headers GitHub puts on every GraphQL answer. */
function rateHeaders(window: RateWindow): Record<string, string> {
  return {
    'x-ratelimit-limit': String(window.limit),
    'x-ratelimit-remaining': String(Math.max(0, window.limit - window.used)),
    'x-ratelimit-reset': String(window.resetAt),
    'x-ratelimit-used': String(window.used),
    'x-ratelimit-resource': 'graphql',
  };
}

/** GitHub's error shape: `type` beside the message (not in extensions), then path and locations. */
function githubError(error: GraphQLFormattedError): Record<string, unknown> {
  const { extensions, ...rest } = error;
  const type = extensions?.type;
  return { ...(typeof type === 'string' ? { type } : {}), ...rest };
}

/** A validation error as GitHub words an unknown field; other rules keep graphql-js's words. */
function validationError(error: GraphQLError): Record<string, unknown> {
  const unknown = /^Cannot query field "([^"]+)" on type "([^"]+)"/.exec(error.message);
  if (unknown) {
    return {
      path: ['query'],
      extensions: { code: 'undefinedField', typeName: unknown[2], fieldName: unknown[1] },
      locations: error.locations,
      message: `Field '${unknown[1]}' doesn't exist on type '${unknown[2]}'`,
    };
  }
  return { extensions: { code: 'validationError' }, locations: error.locations, message: error.message };
}

function cursorOf(offset: number): string {
  return Buffer.from(`cursor:v2:${offset}`).toString('base64');
}

function cursorOffset(cursor: string): number | undefined {
  const match = /^cursor:v2:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}
