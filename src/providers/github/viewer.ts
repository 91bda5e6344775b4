import { BadUserInputError, GatewayError, ProviderRateLimitedError, UpstreamUnavailableError } from '../../errors.js';
import { githubText, primaryLimitWait } from './api.js';

/**
 * What a GraphQL request asks of one identity's GitHub account, and how it becomes one upstream
 * document and comes back out of the answer. Everything selected under one GitHubIdentity in one
 * request (the profile, any number of `repositories` pages) is asked in a single `viewer { … }`
 * document: GitHub's cost is per document, not per field, and its rate limit counts documents.
 * Caller input never enters the document's text: page sizes and cursors are variables, and aliases
 * are ours (`r0`, `r1`, …).
 */

/** One part of a viewer document. */
export type ViewerPart = { kind: 'profile' } | { kind: 'repositories'; first: number; after?: string };

/** The profile fields as GitHub names them (`email` is '' when the user keeps it private). */
export interface GitHubProfileData {
  login: string;
  name: string | null;
  email: string | null;
  avatarUrl: string | null;
  url: string | null;
}

/** A repository as the document selects it. */
export interface GitHubRepositoryData {
  id: string;
  nameWithOwner: string;
  description: string | null;
  isPrivate: boolean;
  url: string;
  updatedAt: string | null;
  stargazerCount: number;
}

/** One page of the viewer's repositories. */
export interface GitHubRepositoryPage {
  items: GitHubRepositoryData[];
  /** GitHub's `endCursor` when another page follows. */
  next?: string;
}

/** What a part resolves to: its data, null (GitHub says it does not exist), or the error of that part only. */
export type PartResult = GitHubProfileData | GitHubRepositoryPage | null | GatewayError;

/** A built document: its text, its variables, and the alias of each part by part key. */
export interface ViewerDocument {
  query: string;
  variables: Record<string, unknown>;
  /** Part key → alias under `viewer` (`profile` for the profile fields, which are not aliased). */
  aliases: Map<string, string>;
}

/** A GraphQL answer as graphql-request hands it back with `errorPolicy: 'all'`, plus the HTTP headers. */
export interface ViewerAnswer {
  data?: unknown;
  errors?: unknown;
  headers: Record<string, string | undefined>;
}

const PROVIDER = 'github';
/** GitHub's largest page (`first` is 1–100). */
export const MAX_PAGE_SIZE = 100;
const PROFILE_FIELDS = ['login', 'name', 'email', 'avatarUrl', 'url'];
const REPOSITORY_FIELDS = 'id nameWithOwner description isPrivate url updatedAt stargazerCount';
// GitHub's cursors are base64 (`Y3Vyc29yOnYyOpHOAAB…`); anything else is refused before it can fail the whole document.
const GITHUB_CURSOR = /^[A-Za-z0-9+/_-]{1,512}={0,2}$/;
// Error types that mean "not there": the part is null, not an error.
const NOT_FOUND_TYPES = new Set(['NOT_FOUND']);

/** The key that identifies a part within one identity's document (equal parts are asked once). */
export function partKey(part: ViewerPart): string {
  return part.kind === 'profile' ? 'profile' : `repositories\u0000${part.first}\u0000${part.after ?? ''}`;
}

/**
 * The one document for `parts` (deduplicated by key): the profile fields directly under `viewer`,
 * each repositories page under its own alias with its own `first`/`after` variables, most recently
 * updated first. Refuses (BAD_USER_INPUT) a page size outside 1–100 or a cursor GitHub never made.
 */
export function buildViewerDocument(parts: readonly ViewerPart[]): ViewerDocument {
  const aliases = new Map<string, string>();
  const declarations: string[] = [];
  const selections: string[] = [];
  const variables: Record<string, unknown> = {};
  for (const part of parts) {
    const key = partKey(part);
    if (aliases.has(key)) continue;
    if (part.kind === 'profile') {
      aliases.set(key, 'profile');
      selections.unshift(PROFILE_FIELDS.join(' '));
      continue;
    }
    checkPage(part);
    const alias = `r${declarations.length / 2}`;
    aliases.set(key, alias);
    declarations.push(`$${alias}First: Int!`, `$${alias}After: String`);
    variables[`${alias}First`] = part.first;
    variables[`${alias}After`] = part.after ?? null;
    selections.push(
      `${alias}: repositories(first: $${alias}First, after: $${alias}After, orderBy: {field: UPDATED_AT, direction: DESC}) ` +
        `{ pageInfo { hasNextPage endCursor } nodes { ${REPOSITORY_FIELDS} } }`,
    );
  }
  const signature = declarations.length > 0 ? `(${declarations.join(', ')})` : '';
  return { query: `query GatewayViewer${signature} { viewer { ${selections.join(' ')} } }`, variables, aliases };
}

/** Refuses (BAD_USER_INPUT) a page size outside 1–100 or a cursor GitHub never made, before anything is sent. */
export function checkPage(part: Extract<ViewerPart, { kind: 'repositories' }>): void {
  if (!Number.isInteger(part.first) || part.first < 1 || part.first > MAX_PAGE_SIZE) {
    throw new BadUserInputError(`\`first\` must be between 1 and ${MAX_PAGE_SIZE} for GitHub; got ${part.first}.`);
  }
  if (part.after !== undefined && !GITHUB_CURSOR.test(part.after)) throw new BadUserInputError('`after` is not a cursor of GitHub repositories.');
}

/**
 * Reads GitHub's answer into one result per part key. RATE_LIMITED anywhere means the whole
 * document was refused: PROVIDER_RATE_LIMITED, waiting until `x-ratelimit-reset`. Otherwise each
 * error belongs to the part its `path` runs through (`["viewer", "r1", "nodes", 3]` → the page
 * aliased r1; a profile field → the profile); an error without such a path (an invalid document)
 * belongs to every part. A part with errors is null when they all say NOT_FOUND, else an error of
 * its own (UPSTREAM_UNAVAILABLE, or BAD_USER_INPUT for a cursor GitHub refused); a part without
 * errors resolves from `data`, so partial data still answers what it can.
 */
export function readViewerAnswer(document: ViewerDocument, answer: ViewerAnswer, now = Date.now()): Map<string, PartResult> {
  const errors = Array.isArray(answer.errors) ? answer.errors.filter(isObject) : [];
  if (errors.some((error) => error.type === 'RATE_LIMITED')) throw new ProviderRateLimitedError(PROVIDER, primaryLimitWait(answer.headers, now));
  const viewer = isObject(answer.data) && isObject(answer.data.viewer) ? answer.data.viewer : undefined;
  const results = new Map<string, PartResult>();
  for (const [key, alias] of document.aliases) {
    const own = errors.filter((error) => belongsTo(error, alias, document));
    if (own.length > 0) {
      results.set(key, own.every((error) => NOT_FOUND_TYPES.has(String(error.type))) ? null : partError(own));
    } else if (!viewer) {
      results.set(key, new UpstreamUnavailableError(PROVIDER, 'the answer holds no viewer'));
    } else {
      results.set(key, alias === 'profile' ? profileOf(viewer) : pageOf(viewer[alias]));
    }
  }
  return results;
}

/** Whether an error's path runs through the part aliased `alias`; errors of no part belong to all. */
function belongsTo(error: Record<string, unknown>, alias: string, document: ViewerDocument): boolean {
  const path = Array.isArray(error.path) ? error.path : [];
  const field = path[0] === 'viewer' && typeof path[1] === 'string' ? path[1] : undefined;
  const part = field === undefined ? undefined : PROFILE_FIELDS.includes(field) ? 'profile' : [...document.aliases.values()].find((a) => a === field);
  return part === undefined || part === alias;
}

function partError(errors: Record<string, unknown>[]): GatewayError {
  const serious = errors.find((error) => !NOT_FOUND_TYPES.has(String(error.type))) ?? errors[0]!;
  const type = typeof serious.type === 'string' ? serious.type : undefined;
  const message = githubText(serious.message);
  if (type === 'INVALID_CURSOR_ARGUMENTS') return new BadUserInputError(`GitHub refused the cursor${message ? `: ${message}` : ''}`, { provider: PROVIDER });
  return new UpstreamUnavailableError(PROVIDER, `GitHub answered an error${type ? ` of type ${type}` : ''}${message ? ` (${message})` : ''}`);
}

function profileOf(viewer: Record<string, unknown>): GitHubProfileData | GatewayError {
  if (typeof viewer.login !== 'string') return new UpstreamUnavailableError(PROVIDER, 'the answer holds no login');
  return {
    login: viewer.login,
    name: nonEmpty(viewer.name),
    // GitHub answers '' for an email the user keeps private.
    email: nonEmpty(viewer.email),
    avatarUrl: nonEmpty(viewer.avatarUrl),
    url: nonEmpty(viewer.url),
  };
}

function pageOf(connection: unknown): GitHubRepositoryPage | GatewayError {
  if (!isObject(connection) || !Array.isArray(connection.nodes)) return new UpstreamUnavailableError(PROVIDER, 'the answer holds no repositories');
  const pageInfo = isObject(connection.pageInfo) ? connection.pageInfo : {};
  const items = connection.nodes.filter((node): node is Record<string, unknown> => isObject(node) && typeof node.id === 'string');
  const next = pageInfo.hasNextPage === true && typeof pageInfo.endCursor === 'string' ? pageInfo.endCursor : undefined;
  return { items: items.map(repositoryOf), next };
}

function repositoryOf(node: Record<string, unknown>): GitHubRepositoryData {
  return {
    id: String(node.id),
    nameWithOwner: typeof node.nameWithOwner === 'string' ? node.nameWithOwner : '',
    description: nonEmpty(node.description),
    isPrivate: node.isPrivate === true,
    url: typeof node.url === 'string' ? node.url : '',
    updatedAt: nonEmpty(node.updatedAt),
    stargazerCount: typeof node.stargazerCount === 'number' ? node.stargazerCount : 0,
  };
}

function nonEmpty(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
