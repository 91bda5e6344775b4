/**
 * A mobile-style GraphQL client on plain `fetch`, speaking Apollo's automatic persisted queries:
 *
 * 1. Send only the operation's hash, as a GET: a short URL instead of a body, which HTTP caches and
 *    CDNs can key on.
 * 2. If the gateway answers PERSISTED_QUERY_NOT_FOUND, send the query with its hash (POST); the
 *    gateway checks that the hash matches, runs it and remembers it.
 * 3. Every later call, from this or any other install, is hash-only again.
 *
 * Ids and bodies come from the persisted-query manifest `npm run codegen` writes, so they are the
 * same ids a gateway in trusted-documents mode knows from that manifest (then step 2 never happens).
 */
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';

/** One operation of the manifest (`operations` of `persisted-query-manifest.json`). */
export interface PersistedOperation {
  id: string;
  name: string;
  body: string;
}

/** A typed document from `npm run codegen`; `__meta__.hash` is its manifest id, `sha256:<hex>`. */
export type PersistedDocument<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> & { __meta__?: Record<string, unknown> };

/** A GraphQL answer; a failed field is null with its error, the rest of `data` is there. */
export interface GraphQLResult<TData> {
  data?: TData | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

/** What `createPersistedQueryClient` needs. */
export interface PersistedQueryClientOptions {
  /** The gateway's GraphQL endpoint, e.g. `https://gateway.example.com/graphql`. */
  url: string;
  /** The user's Auth0 access token for the gateway (from the Auth0 SDK's credentials manager). */
  getAccessToken: () => Promise<string>;
  /** The manifest's operations. */
  operations: readonly PersistedOperation[];
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** Whether an answer says the gateway does not know the hash (Apollo servers also put it in the message). */
const notFound = (error: { message: string; extensions?: Record<string, unknown> }): boolean =>
  error.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND' || error.message === 'PersistedQueryNotFound';
/** Whether an answer says the gateway has no persisted queries at all. */
const notSupported = (error: { message: string; extensions?: Record<string, unknown> }): boolean =>
  error.extensions?.code === 'PERSISTED_QUERY_NOT_SUPPORTED' || error.message === 'PersistedQueryNotSupported';

/** Creates a client whose `execute` runs manifest operations by hash. */
export function createPersistedQueryClient({ url, getAccessToken, operations, fetch: send = fetch }: PersistedQueryClientOptions) {
  const byId = new Map(operations.map((operation) => [operation.id, operation]));
  // A server without persisted queries says so once; from then on the client sends full queries.
  let persistedQueries = true;

  async function request<TData>(method: 'GET' | 'POST', params: Record<string, unknown>): Promise<GraphQLResult<TData>> {
    const headers: Record<string, string> = {
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${await getAccessToken()}`,
    };
    let target = url;
    let body: string | undefined;
    if (method === 'GET') {
      const query = new URLSearchParams();
      for (const [name, value] of Object.entries(params)) if (value !== undefined) query.set(name, typeof value === 'string' ? value : JSON.stringify(value));
      target = `${url}?${query.toString()}`;
    } else {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(params);
    }
    const response = await send(target, { method, headers, body });
    if (!(response.headers.get('content-type') ?? '').includes('json')) throw new Error(`The gateway answered HTTP ${response.status} without a GraphQL body`);
    return (await response.json()) as GraphQLResult<TData>;
  }

  return {
    /** Runs a persisted operation: hash only first, the query too only when the gateway does not know it yet. */
    async execute<TData, TVariables>(document: PersistedDocument<TData, TVariables>, variables?: TVariables): Promise<GraphQLResult<TData>> {
      const hash = document.__meta__?.hash;
      const operation = typeof hash === 'string' ? byId.get(hash.replace(/^sha256:/, '')) : undefined;
      if (!operation) throw new Error('This document is not in the persisted-query manifest: run `npm run codegen`.');
      const { name: operationName, body: query, id: sha256Hash } = operation;
      if (!persistedQueries) return request<TData>('POST', { query, operationName, variables });

      const extensions = { persistedQuery: { version: 1, sha256Hash } };
      const hashOnly = await request<TData>('GET', { operationName, variables, extensions });
      const errors = hashOnly.errors ?? [];
      if (errors.some(notSupported)) {
        persistedQueries = false;
        return request<TData>('POST', { query, operationName, variables });
      }
      if (!errors.some(notFound)) return hashOnly;
      return request<TData>('POST', { query, operationName, variables, extensions });
    },
  };
}
