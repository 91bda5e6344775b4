import { BadUserInputError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import { upstreamCalls } from '../../graphql/cost.js';
import type { GatewayContext } from '../../graphql/context.js';
import { providerGet, type IdentityParent } from '../../graphql/identity.js';
import { connectionType, paginate, type ProviderPage } from '../../graphql/pagination.js';
import { defineProviderIdentity } from '../../graphql/provider-identity.js';
import { bitbucketApi } from './api.js';

/** Identities of Auth0's `bitbucket` strategy. */
export const BitbucketIdentity = defineProviderIdentity({
  typeName: 'BitbucketIdentity',
  strategies: ['bitbucket'],
  description: 'A Bitbucket Cloud account linked through the bitbucket connection.',
  userField: { name: 'bitbucket', description: 'The linked Bitbucket identity; null when none is linked.' },
});

/**
 * Bitbucket Cloud's API as fields of BitbucketIdentity: the account, the workspaces
 * the user belongs to and a workspace's repositories. Lists are Relay connections over Bitbucket's
 * numbered pages. The cross-workspace endpoints (`/workspaces`, `/repositories`) answer 410 since
 * CHANGE-2770, so workspaces come from `/user/workspaces` and repositories are asked per workspace.
 */

interface UserBody {
  uuid: string;
  account_id?: string;
  nickname?: string;
  display_name?: string;
  links?: { avatar?: { href?: string } };
}

interface WorkspaceBody {
  uuid: string;
  slug: string;
  name?: string;
}

/** An item of `/user/workspaces`: the user's access to one workspace (CHANGE-3022). */
interface WorkspaceAccessBody {
  workspace?: WorkspaceBody;
}

interface RepositoryBody {
  uuid: string;
  full_name: string;
  name: string;
  is_private?: boolean;
  updated_on?: string;
  links?: { html?: { href?: string } };
}

/** Bitbucket's paging envelope (`values`, `page`, `pagelen` at most 100, `next` absent on the last page). */
interface PageBody<T> {
  pagelen?: number;
  page?: number;
  next?: string;
  values?: T[];
}

// `pagelen` is at most 100 (C.3); pages beyond a million are not a listing anyone pages through.
const MAX_PAGELEN = 100;
const MAX_PAGE = 1_000_000;
const WORKSPACE_SLUG = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const BRACED_UUID = /^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$/i;
const PAGE_TOKEN = /^([1-9]\d*):([1-9]\d*)$/;

const BitbucketAccount = builder.objectRef<UserBody>('BitbucketAccount').implement({
  description: 'The Bitbucket Cloud account of the identity (GET /2.0/user).',
  fields: (t) => ({
    uuid: t.exposeID('uuid', { description: 'The account UUID, in curly braces as Bitbucket prints it.' }),
    accountId: t.string({
      nullable: true,
      description: 'The Atlassian account id, the stable key since the GDPR changes.',
      resolve: (u) => u.account_id ?? null,
    }),
    displayName: t.string({ nullable: true, description: 'The display name (may vary with privacy settings).', resolve: (u) => u.display_name ?? null }),
    nickname: t.string({ nullable: true, description: 'The nickname; not unique.', resolve: (u) => u.nickname ?? null }),
    avatarUrl: t.string({ nullable: true, description: 'URL of the avatar image.', resolve: (u) => u.links?.avatar?.href ?? null }),
  }),
});

const BitbucketWorkspace = builder.objectRef<WorkspaceBody>('BitbucketWorkspace').implement({
  description: 'A Bitbucket workspace the user has access to.',
  fields: (t) => ({
    uuid: t.exposeID('uuid', { description: 'The workspace UUID, in curly braces.' }),
    slug: t.exposeString('slug', { description: 'The URL-friendly workspace id; pass it to `repositories(workspace:)`.' }),
    name: t.string({ nullable: true, description: 'The display name.', resolve: (w) => w.name ?? null }),
  }),
});

const BitbucketRepository = builder.objectRef<RepositoryBody>('BitbucketRepository').implement({
  description: 'A repository in a Bitbucket workspace.',
  fields: (t) => ({
    uuid: t.exposeID('uuid', { description: 'The repository UUID, in curly braces.' }),
    fullName: t.exposeString('full_name', { description: 'workspace/repository, e.g. acme/widget.' }),
    name: t.exposeString('name', { description: 'The repository name.' }),
    isPrivate: t.boolean({ description: 'Whether the repository is private.', resolve: (r) => r.is_private === true }),
    updatedOn: t.field({ type: 'DateTime', nullable: true, description: 'When the repository was last updated.', resolve: (r) => r.updated_on ?? null }),
    htmlUrl: t.string({ nullable: true, description: 'The repository page on bitbucket.org.', resolve: (r) => r.links?.html?.href ?? null }),
  }),
});

const BitbucketWorkspaceConnection = connectionType('BitbucketWorkspace', BitbucketWorkspace, 'Bitbucket workspace');
const BitbucketRepositoryConnection = connectionType('BitbucketRepository', BitbucketRepository, 'Bitbucket repository');

/** Thrown by a page fetcher when Bitbucket does not show the listing at all: the field is null. */
class ListingNotVisible extends Error {}

builder.objectFields(BitbucketIdentity, (t) => ({
  account: t.field({
    extensions: upstreamCalls(),
    type: BitbucketAccount,
    nullable: true,
    description: 'The Bitbucket account (GET /2.0/user).',
    resolve: async (parent, _args, context) => (await bitbucketGet(context, parent, '/user')) as UserBody | null,
  }),
  workspaces: t.field({
    extensions: upstreamCalls(),
    type: BitbucketWorkspaceConnection,
    nullable: true,
    description: 'The workspaces the user belongs to (GET /2.0/user/workspaces).',
    args: {
      first: t.arg.int({ defaultValue: 10, description: `How many workspaces (at most ${MAX_PAGELEN}).` }),
      after: t.arg.string({ description: 'Continue after this cursor.' }),
    },
    resolve: (parent, args, context) =>
      nullWhenNotVisible(
        paginate('bitbucket.workspaces', args, MAX_PAGELEN, async (token, size) => {
          const page = await bitbucketPage<WorkspaceAccessBody>(context, parent, '/user/workspaces', new URLSearchParams(), token, size);
          return { ...page, items: page.items.flatMap((access) => (access.workspace ? [access.workspace] : [])) };
        }),
      ),
  }),
  repositories: t.field({
    extensions: upstreamCalls(),
    type: BitbucketRepositoryConnection,
    nullable: true,
    description:
      'Repositories of one workspace the user can at least read, most recently updated first ' +
      '(GET /2.0/repositories/{workspace}?role=member&sort=-updated_on); null when the workspace is not visible to the user.',
    args: {
      workspace: t.arg.string({ required: true, description: 'The workspace slug, or its UUID in curly braces.' }),
      first: t.arg.int({ defaultValue: 10, description: `How many repositories (at most ${MAX_PAGELEN}).` }),
      after: t.arg.string({ description: 'Continue after this cursor.' }),
    },
    resolve: (parent, args, context) => {
      const path = `/repositories/${workspaceSegment(args.workspace)}`;
      const query = new URLSearchParams({ role: 'member', sort: '-updated_on' });
      return nullWhenNotVisible(
        paginate('bitbucket.repositories', args, MAX_PAGELEN, (token, size) => bitbucketPage<RepositoryBody>(context, parent, path, query, token, size)),
      );
    },
  }),
}));

function bitbucketGet(context: GatewayContext, parent: IdentityParent, pathAndQuery: string): Promise<unknown> {
  return providerGet(context, parent, bitbucketApi, context.services.config.providers.bitbucket.apiUrl + pathAndQuery);
}

/**
 * One numbered page. Bitbucket counts pages in units of `pagelen`, so a page token is
 * `<page>:<pagelen>`: the page is always fetched with the pagelen it was counted in (ignoring the
 * size asked now) and item offsets stay aligned. The first page is fetched with `pagelen = size`.
 * Of Bitbucket's absolute `next` link only the page number is read; the link itself is never
 * fetched, so an upstream answer cannot steer where the gateway sends a token.
 */
async function bitbucketPage<T>(
  context: GatewayContext,
  parent: IdentityParent,
  path: string,
  params: URLSearchParams,
  token: string | undefined,
  size: number,
): Promise<ProviderPage<T>> {
  const { page, pagelen } = token === undefined ? { page: 1, pagelen: size } : parsePageToken(token);
  const query = new URLSearchParams(params);
  query.set('pagelen', String(pagelen));
  query.set('page', String(page));
  const body = (await bitbucketGet(context, parent, `${path}?${query}`)) as PageBody<T> | null;
  if (!body) {
    // A later page that is gone (the listing shrank) is simply the end; a first page means no listing.
    if (page > 1) return { items: [] };
    throw new ListingNotVisible();
  }
  // Should Bitbucket count in another pagelen than asked, the next page is counted in that one.
  const counted = isPagelen(body.pagelen) ? body.pagelen : pagelen;
  const next = typeof body.next === 'string' ? `${nextPageNumber(body.next, page)}:${counted}` : undefined;
  return { items: Array.isArray(body.values) ? body.values : [], next };
}

/** Reads a `<page>:<pagelen>` token; anything else was not made by us and is refused. */
function parsePageToken(token: string): { page: number; pagelen: number } {
  const match = PAGE_TOKEN.exec(token);
  const page = Number(match?.[1]);
  const pagelen = Number(match?.[2]);
  if (!match || page > MAX_PAGE || !isPagelen(pagelen)) throw new BadUserInputError('`after` is not a cursor of this Bitbucket listing.');
  return { page, pagelen };
}

/** The `page` query parameter of Bitbucket's `next` link; the following page when it has none we can trust. */
function nextPageNumber(link: string, current: number): number {
  const value = URL.canParse(link) ? new URL(link).searchParams.get('page') : null;
  const linked = value && /^[1-9]\d*$/.test(value) ? Number(value) : undefined;
  return linked !== undefined && linked > current && linked <= MAX_PAGE ? linked : current + 1;
}

function isPagelen(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= MAX_PAGELEN;
}

/**
 * The workspace argument as one URL path segment: a slug or a braced UUID, checked before any
 * request so that nothing else (`..`, `/`, a query) can reach Bitbucket's path.
 */
function workspaceSegment(workspace: string): string {
  const valid = (workspace.length <= 100 && WORKSPACE_SLUG.test(workspace)) || BRACED_UUID.test(workspace);
  if (!valid) {
    const shown = JSON.stringify(workspace.length > 100 ? `${workspace.slice(0, 100)}…` : workspace);
    throw new BadUserInputError(
      `\`workspace\` must be a workspace slug (letters, digits, "_", "." and "-", starting with a letter or digit, at most 100 characters) or a UUID in curly braces; got ${shown}.`,
    );
  }
  return encodeURIComponent(workspace);
}

async function nullWhenNotVisible<T>(connection: Promise<T>): Promise<T | null> {
  try {
    return await connection;
  } catch (error) {
    if (error instanceof ListingNotVisible) return null;
    throw error;
  }
}
