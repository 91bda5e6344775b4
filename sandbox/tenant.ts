import { randomBytes } from 'node:crypto';
import { SignJWT, createLocalJWKSet, errors as joseErrors, exportJWK, exportSPKI, generateKeyPair, jwtVerify, type CryptoKey, type JWK } from 'jose';
import { Simulator, basicCredentials, bearerToken, parseFormOrJson, type SimRequest, type SimResponse } from './http.js';
import type { IssuedTokens } from './provider-tokens.js';
import { FakeTokenVault, oauthError } from './tenant-vault.js';
import { QuerySyntaxError, apiError, matchesUserQuery, parseUserQuery, project, searchPaging } from './tenant-query.js';

/**
 * A simulated Auth0 tenant: the OAuth token endpoint, JWKS and discovery, and the slice of the
 * Management API v2 the gateway reads (users, search, connections). Shapes, status codes, error
 * bodies and rate-limit headers follow docs/upstream-apis.md#auth0, so the gateway's Auth0 client
 * is exercised against Auth0's real behaviour, quirks included (numeric identity ids, token-less
 * search results, eventual consistency, epoch-second reset headers).
 */

/** Raw identity as the Management API returns it. */
export interface RawIdentity {
  provider: string;
  user_id: string | number;
  connection: string;
  isSocial: boolean;
  access_token?: string;
  access_token_secret?: string;
  refresh_token?: string;
  expires_in?: number;
  profileData?: Record<string, unknown>;
}

/** Raw user as the Management API returns it (extra root attributes allowed). */
export interface RawUser {
  user_id: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  nickname?: string;
  picture?: string;
  created_at: string;
  updated_at: string;
  last_login?: string;
  identities: RawIdentity[];
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
  [key: string]: unknown;
}

/** Raw connection object. */
export interface RawConnection {
  id: string;
  name: string;
  strategy: string;
  display_name?: string;
  options: Record<string, unknown>;
  realms?: string[];
  is_domain_connection?: boolean;
  [key: string]: unknown;
}

/** How a tenant behaves; every field can be changed on `tenant.options` while it runs. */
export interface TenantOptions {
  /** Default 'sandbox-m2m-client'. */
  clientId?: string;
  /** Default: random 32 bytes, base64url. */
  clientSecret?: string;
  /** API identifier callers' tokens carry; default 'https://gateway.sandbox/api'. */
  audience?: string;
  /** Management token lifetime in seconds; default 86400. */
  managementTokenTtl?: number;
  /** Scopes granted to the M2M client; default 'read:users read:user_idp_tokens read:connections'. */
  managementScopes?: string;
  /** Token bucket over all /api/v2/* calls; undefined = unlimited. Assigning a new object refills it. */
  rateLimit?: { burst: number; perSecond: number };
  /** Default false: search results carry identities without access_token/refresh_token/access_token_secret. */
  searchReturnsTokens?: boolean;
  /** Default 8192: longer request URLs (path+query) get 414. Node itself rejects headers over 16 KiB (431). */
  maxUrlLength?: number;
  /**
   * Default true. False: the M2M client has no client grant for the Management API, so the token
   * endpoint refuses it (403 `access_denied`) although its credentials are right; setting it back
   * to true is authorizing the application in the dashboard, which needs no restart of anything.
   */
  managementGrant?: boolean;
  /** Default 'sandbox-token-vault-client': the Custom API Client of `audience` allowed the Token Vault exchange. */
  tokenVaultClientId?: string;
  /** Default: random 32 bytes, base64url. */
  tokenVaultClientSecret?: string;
  /** How a Token Vault answer states the expiry: `expires_at` (epoch seconds, the default) or `expires_in` (both appear in Auth0's docs). */
  tokenVaultExpiry?: 'expires_at' | 'expires_in';
}

/** Claims of a caller access token. */
export interface CallerClaims {
  sub: string;
  scope?: string;
  permissions?: string[];
  [claim: string]: unknown;
}

/** Overrides for `issueAccessToken`, mostly for forging bad tokens in tests. */
export interface IssueOptions {
  /** Seconds from now, default 3600; negative = already expired. */
  expiresIn?: number;
  /** Default: the tenant's `audience`. */
  audience?: string | string[];
  /** Default: `${origin}/`. */
  issuer?: string;
  /** Default: the current signing key's kid. */
  kid?: string;
  /** Leave the `exp` claim out (a token that would never expire). */
  omitExpiry?: boolean;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

interface Bucket {
  config: { burst: number; perSecond: number };
  tokens: number;
  updatedAt: number;
}

type ApiHandler = (req: SimRequest, scopes: Set<string>) => SimResponse;

const TOKEN_FIELDS = ['access_token', 'refresh_token', 'access_token_secret'] as const;
const USER_SCOPES = ['read:users', 'read:current_user', 'read:user_idp_tokens'];
const SEARCH_SCOPES = ['read:users', 'read:user_idp_tokens'];
const CONNECTION_SCOPES = ['read:connections'];
const EXPIRED = 'Expired token received for JSON Web Token validation';
const URI_TOO_LARGE =
  '<html>\r\n<head><title>414 Request-URI Too Large</title></head>\r\n<body>\r\n' +
  '<center><h1>414 Request-URI Too Large</h1></center>\r\n</body>\r\n</html>\r\n';

/**
 * The fake Auth0 tenant. Start it with `listen()` (which also creates the first signing key): its
 * issuer depends on the port. Tests mutate `options`, the stored users and `unindexed` while it runs;
 * every request reads them afresh.
 */
export class FakeTenant extends Simulator {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly audience: string;
  /** Live settings; tests flip `searchReturnsTokens`, set `rateLimit`, shrink `maxUrlLength`. */
  readonly options: Required<Pick<TenantOptions, 'managementTokenTtl' | 'managementScopes' | 'searchReturnsTokens' | 'maxUrlLength'>> & TenantOptions;
  /** User ids the search index has not caught up with: search omits them, GET /users/{id} finds them. */
  readonly unindexed = new Set<string>();
  /** Every Management API token handed out, so tests can prove none leaked into logs or stores. */
  readonly issuedManagementTokens: string[] = [];
  /** The user ids each search answered with 200 returned, in order (a refused query adds nothing). */
  readonly searchResults: string[][] = [];
  /** Auth0 Token Vault: its Custom API Client, the connections it serves and the accounts users connected. */
  readonly tokenVault: FakeTokenVault;
  private readonly users = new Map<string, RawUser>();
  private readonly connections = new Map<string, RawConnection>();
  private keys: SigningKey[] = [];
  private bucket: Bucket | undefined;

  constructor(options: TenantOptions = {}) {
    super();
    this.clientId = options.clientId ?? 'sandbox-m2m-client';
    this.clientSecret = options.clientSecret ?? randomBytes(32).toString('base64url');
    this.audience = options.audience ?? 'https://gateway.sandbox/api';
    this.tokenVault = new FakeTokenVault({ clientId: options.tokenVaultClientId, clientSecret: options.tokenVaultClientSecret });
    this.options = {
      ...options,
      managementTokenTtl: options.managementTokenTtl ?? 86400,
      managementScopes: options.managementScopes ?? 'read:users read:user_idp_tokens read:connections',
      searchReturnsTokens: options.searchReturnsTokens ?? false,
      maxUrlLength: options.maxUrlLength ?? 8192,
    };
    this.registerRoutes();
  }

  /** The `iss` of every token this tenant signs; Auth0 always ends it with a slash. */
  get issuer(): string {
    return `${this.origin}/`;
  }

  /** The audience Management API tokens must carry, derived from the origin like Auth0's tenant domain. */
  get managementAudience(): string {
    return `${this.origin}/api/v2/`;
  }

  /** Creates the first signing key if needed, then listens on loopback. */
  override async listen(port?: number, host?: string): Promise<string> {
    await this.currentKey();
    return super.listen(port, host);
  }

  /** Stores a copy of a user (so shared fixtures stay pristine), replacing one with the same id. */
  addUser(user: RawUser): void {
    this.users.set(user.user_id, structuredClone(user));
  }

  /** Deletes a user, as deleting a primary account does in Auth0. */
  removeUser(userId: string): void {
    this.users.delete(userId);
  }

  /** The live stored record, for tests that change tokens or identities in place. */
  user(userId: string): RawUser | undefined {
    return this.users.get(userId);
  }

  /** Stores a copy of a connection, replacing one with the same id. */
  addConnection(connection: RawConnection): void {
    this.connections.set(connection.id, structuredClone(connection));
  }

  /** The live stored connection, looked up by id (`con_...`) or by name. */
  connection(idOrName: string): RawConnection | undefined {
    return this.connections.get(idOrName) ?? [...this.connections.values()].find((c) => c.name === idOrName);
  }

  /** The Custom API Client allowed Token Vault's access-token exchange (TOKEN_VAULT_CLIENT_ID/_SECRET). */
  get tokenVaultClient(): { clientId: string; clientSecret: string } {
    return this.tokenVault.client;
  }

  /** Enables Token Vault for a connection: from now on its tokens no longer show in identities[], as in Auth0. */
  enableTokenVault(connection: string): void {
    this.tokenVault.enable(connection);
  }

  /**
   * Connects an account for Token Vault, as the My Account API's Connected Accounts flow does:
   * Auth0 keeps the provider tokens (`issue()` gives a fresh one, as the provider's refresh grant
   * would) and hands them out through the token exchange.
   */
  connectAccount(userId: string, connection: string, identityUserId: string, issue: () => IssuedTokens): void {
    this.tokenVault.connect(userId, connection, identityUserId, issue);
  }

  /** Forgets a user's connected accounts on a connection (the exchange then answers `..._refresh_token_not_found`). */
  disconnectAccount(userId: string, connection: string): void {
    this.tokenVault.disconnect(userId, connection);
  }

  /** Makes Auth0's refresh of the connected accounts' provider tokens fail (or work again), and drops the tokens it holds. */
  failVaultRefresh(userId: string, connection: string, fails = true): void {
    this.tokenVault.failRefresh(userId, connection, fails);
  }

  /** Token Vault exchanges answered with a token for the user and connection. */
  vaultExchangeCount(userId: string, connection: string): number {
    return this.tokenVault.exchangeCount(userId, connection);
  }

  /** Zeroes the call counters and the search results, the Token Vault exchange counts included. */
  override resetCounters(): void {
    super.resetCounters();
    this.searchResults.length = 0;
    this.tokenVault.resetCounters();
  }

  /** Signs a caller access token as Auth0 would for the gateway's API (RS256, kid in the header). */
  async issueAccessToken(claims: CallerClaims, options: IssueOptions = {}): Promise<string> {
    const key = await this.currentKey();
    const now = Math.floor(Date.now() / 1000);
    const exp = now + (options.expiresIn ?? 3600);
    const jwt = new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: options.kid ?? key.kid })
      .setIssuer(options.issuer ?? this.issuer)
      .setAudience(options.audience ?? this.audience)
      .setIssuedAt(Math.min(now, exp - 60));
    if (!options.omitExpiry) jwt.setExpirationTime(exp);
    return jwt.sign(key.privateKey);
  }

  /** Makes a new key current (returning its kid); the old one stays published unless `dropOld`. */
  async rotateSigningKey(options: { dropOld?: boolean } = {}): Promise<string> {
    const key = await this.newKey();
    this.keys = options.dropOld ? [key] : [key, ...this.keys];
    return key.kid;
  }

  /** SPKI PEM of the current public key, for algorithm-confusion (HS256) forgeries in tests. */
  async publicKeyPem(): Promise<string> {
    return exportSPKI((await this.currentKey()).publicKey);
  }

  private async currentKey(): Promise<SigningKey> {
    if (!this.keys[0]) this.keys = [await this.newKey()];
    return this.keys[0] as SigningKey;
  }

  private async newKey(): Promise<SigningKey> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = randomBytes(16).toString('base64url');
    const jwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' };
    return { kid, privateKey, publicKey, jwk };
  }

  private registerRoutes(): void {
    this.route('jwks', 'GET', /^\/\.well-known\/jwks\.json$/, () => ({
      status: 200,
      body: { keys: this.keys.map((k) => k.jwk) },
    }));
    this.route('openidConfiguration', 'GET', /^\/\.well-known\/openid-configuration$/, () => ({
      status: 200,
      body: {
        issuer: this.issuer,
        jwks_uri: `${this.origin}/.well-known/jwks.json`,
        token_endpoint: `${this.origin}/oauth/token`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        id_token_signing_alg_values_supported: ['HS256', 'RS256'],
      },
    }));
    this.route('token', 'POST', /^\/oauth\/token$/, (req) => this.token(req));
    this.api('getUser', /^\/api\/v2\/users\/([^/]+)$/, USER_SCOPES, (req, scopes) => this.getUser(req, scopes));
    this.api('searchUsers', /^\/api\/v2\/users$/, SEARCH_SCOPES, (req, scopes) => this.searchUsers(req, scopes));
    this.api('getConnection', /^\/api\/v2\/connections\/([^/]+)$/, CONNECTION_SCOPES, (req) => this.getConnection(req));
    this.api('listConnections', /^\/api\/v2\/connections$/, CONNECTION_SCOPES, (req) => this.listConnections(req));
  }

  /** POST /oauth/token: client credentials only, with Auth0's error bodies for each refusal. */
  private async token(req: SimRequest): Promise<SimResponse> {
    const body = parseFormOrJson(req);
    const basic = basicCredentials(req);
    const id = basic?.id ?? body.client_id;
    const secret = basic?.secret ?? body.client_secret;
    if (!body.grant_type) return oauthError(400, 'invalid_request', 'Missing required parameter: grant_type');
    if (id === this.tokenVault.client.clientId) {
      return this.tokenVault.exchange(body, secret, (token) => this.verifiedSubject(token), this.options.tokenVaultExpiry);
    }
    if (id !== this.clientId || secret !== this.clientSecret) return oauthError(401, 'access_denied', 'Unauthorized');
    if (body.grant_type !== 'client_credentials') {
      const description = `Grant type '${body.grant_type}' not allowed for the client.`;
      return oauthError(403, 'unauthorized_client', description, 'https://auth0.com/docs/clients/client-grant-types');
    }
    if (!body.audience) {
      const description = 'No audience parameter was provided, and no default audience has been configured';
      return oauthError(403, 'access_denied', description);
    }
    if (body.audience !== this.managementAudience) {
      return oauthError(403, 'access_denied', `Service not enabled within domain: ${body.audience}`);
    }
    if (this.options.managementGrant === false) {
      const description = `Client is not authorized to access "${this.managementAudience}". You need to create a "client-grant" associated to this API.`;
      return oauthError(403, 'access_denied', description);
    }
    const scope = this.grantedScopes(body.scope);
    const key = await this.currentKey();
    const ttl = this.options.managementTokenTtl;
    const accessToken = await new SignJWT({ azp: this.clientId, gty: 'client-credentials', scope })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid })
      .setIssuer(this.issuer)
      .setSubject(`${this.clientId}@clients`)
      .setAudience(this.managementAudience)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
      .sign(key.privateKey);
    this.issuedManagementTokens.push(accessToken);
    return { status: 200, body: { access_token: accessToken, scope, expires_in: ttl, token_type: 'Bearer' } };
  }

  /** The `sub` of an access token this tenant issued for `audience` (signature, iss, aud, exp); undefined otherwise. */
  private async verifiedSubject(token: string): Promise<string | undefined> {
    try {
      const verifier = createLocalJWKSet({ keys: this.keys.map((k) => k.jwk) });
      const { payload } = await jwtVerify(token, verifier, { algorithms: ['RS256'], issuer: this.issuer, audience: this.audience });
      return typeof payload.sub === 'string' ? payload.sub : undefined;
    } catch {
      return undefined;
    }
  }

  /** Auth0 grants the requested scopes the client grant allows, or all of them when none are asked for. */
  private grantedScopes(requested: string | undefined): string {
    const granted = this.options.managementScopes.split(' ').filter(Boolean);
    if (!requested) return granted.join(' ');
    const asked = new Set(requested.split(' '));
    return granted.filter((s) => asked.has(s)).join(' ');
  }

  /**
   * Registers a Management API route behind the gate every /api/v2 call passes, in Auth0's order:
   * the proxy's URL length limit, then the bearer token, then scopes, then the rate limit.
   */
  private api(name: string, pattern: RegExp, scopes: string[], handler: ApiHandler): void {
    this.route(name, 'GET', pattern, async (req) => {
      if (req.url.length > this.options.maxUrlLength) {
        return { status: 414, body: URI_TOO_LARGE, headers: { 'content-type': 'text/html' } };
      }
      const granted = await this.authenticate(req);
      if (!(granted instanceof Set)) return this.withRateHeaders(granted);
      if (!scopes.some((s) => granted.has(s))) {
        const message = `Insufficient scope, expected any of: ${scopes.join(',')}`;
        return this.withRateHeaders(apiError(403, 'Forbidden', message, 'insufficient_scope'));
      }
      if (!this.takeRateToken()) {
        const limited = apiError(429, 'Too Many Requests', 'Global limit has been reached', 'too_many_requests');
        return this.withRateHeaders(limited);
      }
      return this.withRateHeaders(handler(req, granted));
    });
  }

  /** Verifies a Management API token against the published keys; returns its scopes or the 401. */
  private async authenticate(req: SimRequest): Promise<Set<string> | SimResponse> {
    const token = bearerToken(req);
    const invalid = apiError(401, 'Unauthorized', 'Invalid token');
    if (!token) return invalid;
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet({ keys: this.keys.map((k) => k.jwk) }), {
        algorithms: ['RS256'],
        issuer: this.issuer,
        audience: this.managementAudience,
      });
      return new Set(typeof payload.scope === 'string' ? payload.scope.split(' ') : []);
    } catch (error) {
      if (!(error instanceof joseErrors.JWTExpired)) return invalid;
      const body = { statusCode: 401, error: 'Unauthorized', message: EXPIRED, attributes: { error: EXPIRED } };
      return { status: 401, body };
    }
  }

  /** Refills the shared bucket continuously and takes one token; true when the call may proceed. */
  private takeRateToken(): boolean {
    const bucket = this.refilledBucket();
    if (!bucket) return true;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** The bucket brought up to date, or undefined when unlimited; a new `rateLimit` object starts full. */
  private refilledBucket(): Bucket | undefined {
    const config = this.options.rateLimit;
    if (!config) return (this.bucket = undefined);
    const now = Date.now();
    if (this.bucket?.config !== config) this.bucket = { config, tokens: config.burst, updatedAt: now };
    const bucket = this.bucket;
    bucket.tokens = Math.min(config.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * config.perSecond);
    bucket.updatedAt = now;
    return bucket;
  }

  /** Adds the x-ratelimit-* headers every rate-limited Auth0 response carries; reset is epoch seconds. */
  private withRateHeaders(answer: SimResponse): SimResponse {
    const bucket = this.refilledBucket();
    if (!bucket) return answer;
    const { burst, perSecond } = bucket.config;
    const missing = bucket.tokens >= burst ? 0 : Math.floor(bucket.tokens) + 1 - bucket.tokens;
    const resetAt = Math.ceil((Date.now() + (missing / perSecond) * 1000) / 1000);
    const headers = {
      'x-ratelimit-limit': String(burst),
      'x-ratelimit-remaining': String(Math.max(0, Math.floor(bucket.tokens))),
      'x-ratelimit-reset': String(resetAt),
    };
    return { ...answer, headers: { ...answer.headers, ...headers } };
  }

  /** GET /api/v2/users/{id}: immediately consistent, IdP tokens only with read:user_idp_tokens. */
  private getUser(req: SimRequest, scopes: Set<string>): SimResponse {
    const stored = this.users.get(req.params[0] ?? '');
    if (!stored) return apiError(404, 'Not Found', 'The user does not exist.', 'inexistent_user');
    const user = this.exposeUser(stored, scopes.has('read:user_idp_tokens'));
    return { status: 200, body: project(user, req.query) };
  }

  /** A deep copy of a user, with identity tokens removed unless the caller may see them. */
  private exposeUser(stored: RawUser, withTokens: boolean): RawUser {
    const user = structuredClone(stored);
    for (const identity of user.identities ?? []) {
      // Auth0 keeps a Token Vault connection's tokens in the vault, never in identities[].
      if (!withTokens || this.tokenVault.isEnabled(identity.connection)) for (const field of TOKEN_FIELDS) delete identity[field];
    }
    return user;
  }

  /** GET /api/v2/users: the v3 search subset, eventually consistent, paged and capped at 1000 results. */
  private searchUsers(req: SimRequest, scopes: Set<string>): SimResponse {
    const paging = searchPaging(req.query);
    if (!('perPage' in paging)) return paging;
    const { page, perPage } = paging;
    const matches = this.searchMatches(req.query.get('q'));
    if (!Array.isArray(matches)) return matches;
    const withTokens = this.options.searchReturnsTokens && scopes.has('read:user_idp_tokens');
    const start = page * perPage;
    const answered = matches.slice(start, start + perPage);
    this.searchResults.push(answered.map((user) => user.user_id));
    const users = answered.map((user) => project(this.exposeUser(user, withTokens), req.query));
    if (req.query.get('include_totals') !== 'true') return { status: 200, body: users };
    const body = { start, limit: perPage, length: users.length, total: matches.length, users };
    return { status: 200, body };
  }

  /** Indexed users matching `q`, ordered by user_id so pages are deterministic. */
  private searchMatches(q: string | null): RawUser[] | SimResponse {
    let filter: (user: RawUser) => boolean = () => true;
    if (q !== null && q.trim() !== '') {
      try {
        const query = parseUserQuery(q);
        filter = (user) => matchesUserQuery(query, user);
      } catch (error) {
        if (!(error instanceof QuerySyntaxError)) throw error;
        return apiError(400, 'Bad Request', 'Invalid request query string', 'invalid_query_string');
      }
    }
    return [...this.users.values()]
      .filter((user) => !this.unindexed.has(user.user_id) && filter(user))
      .sort((a, b) => (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
  }

  /** GET /api/v2/connections/{id}: by connection id only, as Auth0 does. */
  private getConnection(req: SimRequest): SimResponse {
    const stored = this.connections.get(req.params[0] ?? '');
    if (!stored) return apiError(404, 'Not Found', 'The connection does not exist.', 'inexistent_connection');
    return { status: 200, body: project(structuredClone(stored), req.query) };
  }

  /** GET /api/v2/connections: filtered by exact `name` and any of the repeated `strategy` values. */
  private listConnections(req: SimRequest): SimResponse {
    const name = req.query.get('name');
    const strategies = req.query
      .getAll('strategy')
      .flatMap((s) => s.split(','))
      .filter(Boolean);
    const list = [...this.connections.values()]
      .filter((c) => name === null || c.name === name)
      .filter((c) => strategies.length === 0 || strategies.includes(c.strategy))
      .map((c) => project(structuredClone(c), req.query));
    return { status: 200, body: list };
  }
}
