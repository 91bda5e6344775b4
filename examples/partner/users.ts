import type { GraphQLFormattedError } from 'graphql';
import { ClientError, type GraphQLClient } from 'graphql-request';
import { graphql } from '../gql/index.js';
import type { PartnerUsersQuery } from '../gql/graphql.js';

/** The gateway refuses a request that names more than this many user ids. */
export const MAX_IDS_PER_REQUEST = 100;

const PartnerUsers = graphql(`
  query PartnerUsers($ids: [ID!]!) {
    users(ids: $ids) {
      id
      name
      email
      google {
        connection
        token {
          state
          expiresAt
        }
        accessToken
      }
    }
  }
`);

/** A user as `fetchUsers` reads it. */
export type PartnerUser = NonNullable<PartnerUsersQuery['users'][number]>;

/** The answer for one requested id. */
export interface UserResult {
  id: string;
  /** Null when Auth0 has no user with this id. */
  user: PartnerUser | null;
  /**
   * Errors of this user's fields, e.g. REAUTHENTICATION_REQUIRED on `google.accessToken` when the
   * user's Google grant is dead: that field is null, the rest of the user is still there.
   */
  errors: GraphQLFormattedError[];
}

/**
 * Reads any number of users, `pageSize` ids per request (at most 100, the gateway's limit), one
 * request after another: pages stay within the partner's fair share of the gateway's Auth0 queue,
 * and a 40-id page costs the gateway a single Auth0 search. The results come back in the order of
 * `ids`. A field error stays with its user; only a page that fails as a whole (network, HTTP 401,
 * the gateway unable to read users at all) throws.
 */
export async function fetchUsers(client: GraphQLClient, ids: readonly string[], { pageSize = 40 } = {}): Promise<UserResult[]> {
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_IDS_PER_REQUEST) {
    throw new RangeError(`pageSize must be an integer from 1 to ${MAX_IDS_PER_REQUEST}, got ${pageSize}`);
  }
  const results: UserResult[] = [];
  for (let start = 0; start < ids.length; start += pageSize) {
    const page = ids.slice(start, start + pageSize);
    const { users, errors } = await requestPage(client, page);
    page.forEach((id, index) => {
      // An error's path is ["users", <index in this page>, ...the field].
      const own = errors.filter((error) => error.path?.[0] === 'users' && error.path[1] === index);
      results.push({ id, user: users[index] ?? null, errors: own });
    });
  }
  return results;
}

/** One `users(ids:)` request that keeps the data of a partial answer along with its errors. */
async function requestPage(client: GraphQLClient, ids: string[]): Promise<{ users: PartnerUsersQuery['users']; errors: GraphQLFormattedError[] }> {
  try {
    const data = await client.request(PartnerUsers, { ids });
    return { users: data.users, errors: [] };
  } catch (error) {
    // graphql-request throws on any error in the answer; a partial answer still carries its data.
    const users = error instanceof ClientError ? (error.response.data as Partial<PartnerUsersQuery> | undefined)?.users : undefined;
    if (!(error instanceof ClientError) || !users) throw error;
    return { users, errors: error.response.errors ?? [] };
  }
}
