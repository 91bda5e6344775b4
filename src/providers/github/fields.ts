import { createContextCache } from '@pothos/core';
import DataLoader from 'dataloader';
import { UpstreamUnavailableError } from '../../errors.js';
import { builder } from '../../graphql/builder.js';
import { upstreamCalls } from '../../graphql/cost.js';
import type { GatewayContext } from '../../graphql/context.js';
import { subjectOf, type IdentityParent } from '../../graphql/identity.js';
import { connectionType, paginate } from '../../graphql/pagination.js';
import { defineProviderIdentity } from '../../graphql/provider-identity.js';
import type { TokenSubject } from '../../tokens/broker.js';
import { githubApi } from './api.js';
import { fetchViewer } from './client.js';
import {
  MAX_PAGE_SIZE,
  checkPage,
  partKey,
  type GitHubProfileData,
  type GitHubRepositoryData,
  type GitHubRepositoryPage,
  type PartResult,
  type ViewerPart,
} from './viewer.js';

/** Identities of Auth0's `github` strategy. */
export const GitHubIdentity = defineProviderIdentity({
  typeName: 'GitHubIdentity',
  strategies: ['github'],
  description: 'A GitHub account linked through the github connection.',
  userField: { name: 'github', description: 'The linked GitHub identity; null when none is linked.' },
});

/**
 * GitHub's GraphQL API as fields of GitHubIdentity: the viewer's profile and repositories, most
 * recently updated first, as a Relay connection over GitHub's own cursors. Whatever one request
 * selects under one GitHub identity travels upstream as one `viewer { … }` document (see viewer.ts).
 */

const GitHubProfile = builder.objectRef<GitHubProfileData>('GitHubProfile').implement({
  description: 'The GitHub account of the identity (the GraphQL `viewer`).',
  fields: (t) => ({
    login: t.exposeString('login', { description: 'The username, e.g. octocat.' }),
    name: t.string({ nullable: true, description: 'The display name; null when the user set none.', resolve: (p) => p.name }),
    email: t.string({ nullable: true, description: 'The public email; null when the user keeps it private.', resolve: (p) => p.email }),
    avatarUrl: t.string({ nullable: true, description: 'URL of the avatar image.', resolve: (p) => p.avatarUrl }),
    url: t.string({ nullable: true, description: 'The profile page on github.com.', resolve: (p) => p.url }),
  }),
});

const GitHubRepository = builder.objectRef<GitHubRepositoryData>('GitHubRepository').implement({
  description: 'A repository the user owns, collaborates on or can reach through an organization.',
  fields: (t) => ({
    id: t.exposeID('id', { description: "GitHub's global node id of the repository." }),
    nameWithOwner: t.exposeString('nameWithOwner', { description: 'owner/name, e.g. octocat/hello-world.' }),
    description: t.string({ nullable: true, description: 'The description; null when there is none.', resolve: (r) => r.description }),
    isPrivate: t.exposeBoolean('isPrivate', { description: 'Whether the repository is private.' }),
    url: t.exposeString('url', { description: 'The repository page on github.com.' }),
    updatedAt: t.field({ type: 'DateTime', nullable: true, description: 'When the repository was last updated.', resolve: (r) => r.updatedAt }),
    stargazerCount: t.exposeInt('stargazerCount', { description: 'How many users starred it.' }),
  }),
});

const GitHubRepositoryConnection = connectionType('GitHubRepository', GitHubRepository, 'GitHub repository');

/** Thrown by the page fetcher when GitHub says the listing does not exist (NOT_FOUND): the field is null. */
class ListingNotFound extends Error {}

builder.objectFields(GitHubIdentity, (t) => ({
  profile: t.field({
    extensions: upstreamCalls(),
    type: GitHubProfile,
    nullable: true,
    description: 'The GitHub account (GraphQL `viewer`); asked in the same upstream document as the repositories.',
    resolve: async (parent, _args, context) => (await viewerPart(context, parent, { kind: 'profile' })) as GitHubProfileData | null,
  }),
  repositories: t.field({
    extensions: upstreamCalls(),
    type: GitHubRepositoryConnection,
    nullable: true,
    description:
      'Repositories of the user, most recently updated first (GraphQL `viewer.repositories`, orderBy UPDATED_AT DESC); ' +
      'every page asked in one request travels in one upstream document.',
    args: {
      first: t.arg.int({ defaultValue: 10, description: `How many repositories (at most ${MAX_PAGE_SIZE}).` }),
      after: t.arg.string({ description: 'Continue after this cursor.' }),
    },
    resolve: async (parent, args, context) => {
      try {
        return await paginate('github.repositories', args, MAX_PAGE_SIZE, async (token, size) => {
          const part: ViewerPart = { kind: 'repositories', first: size, after: token };
          checkPage(part);
          const page = (await viewerPart(context, parent, part)) as GitHubRepositoryPage | null;
          if (!page) throw new ListingNotFound();
          return page;
        });
      } catch (error) {
        if (error instanceof ListingNotFound) return null;
        throw error;
      }
    },
  }),
}));

/** One part asked of an identity's viewer document. */
interface ViewerLoad {
  subject: TokenSubject;
  part: ViewerPart;
}

/** Resolves one part of `parent`'s viewer document, which carries every part the request asks of that identity. */
function viewerPart(context: GatewayContext, parent: IdentityParent, part: ViewerPart): Promise<PartResult> {
  return viewerParts(context).load({ subject: subjectOf(parent, context), part });
}

const loadKey = ({ subject, part }: ViewerLoad) => `${subject.key}\u0000${partKey(part)}`;

/**
 * A request's GitHub parts, batched per identity: the parts loaded in one tick are grouped by token
 * subject, and each group is sent as one document; equal parts are asked once. A failure of a whole
 * document (refused token, rate limit, GitHub down) fails that identity's parts only; an error of
 * one part (its path in GitHub's answer) fails that part only.
 */
const viewerParts = createContextCache(
  (context: GatewayContext) => new DataLoader<ViewerLoad, PartResult, string>((loads) => loadViewerParts(context, loads), { cacheKeyFn: loadKey }),
);

async function loadViewerParts(context: GatewayContext, loads: readonly ViewerLoad[]): Promise<(PartResult | Error)[]> {
  const groups = new Map<string, ViewerLoad[]>();
  for (const load of loads) {
    const group = groups.get(load.subject.key) ?? [];
    group.push(load);
    groups.set(load.subject.key, group);
  }
  const api = context.services.providerApi(githubApi);
  const url = context.services.config.providers.github.graphqlUrl;
  const results = new Map<string, PartResult | Error>();
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const parts = group.map((load) => load.part);
      const answer = await fetchViewer(api, context, group[0]!.subject, url, parts).catch((error: unknown) => error as Error);
      for (const load of group) results.set(loadKey(load), answer instanceof Error ? answer : (answer.get(partKey(load.part)) ?? missingPart()));
    }),
  );
  return loads.map((load) => results.get(loadKey(load)) ?? missingPart());
}

function missingPart(): UpstreamUnavailableError {
  return new UpstreamUnavailableError('github', 'the answer lacks a part that was asked');
}
