/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** What the gateway knows about an identity provider token. */
export type TokenState =
  /** Expired; the next use renews it. */
  | 'EXPIRED'
  /** Dead: the user must sign in through that connection again. */
  | 'REAUTHENTICATION_REQUIRED'
  /** No expiry known (or no provider token at all). */
  | 'UNKNOWN'
  /** Known expiry in the future. */
  | 'VALID';

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { id: string, email: string | null, identities: Array<
      | { provider: string, userId: string, token: { state: TokenState, hasRefreshToken: boolean, expiresAt: string | null } }
      | { provider: string, userId: string, token: { state: TokenState, hasRefreshToken: boolean, expiresAt: string | null } }
      | { provider: string, userId: string, token: { state: TokenState, hasRefreshToken: boolean, expiresAt: string | null } }
      | { provider: string, userId: string, token: { state: TokenState, hasRefreshToken: boolean, expiresAt: string | null } }
      | { provider: string, userId: string, token: { state: TokenState, hasRefreshToken: boolean, expiresAt: string | null } }
      | { provider: string, userId: string, token: { state: TokenState, hasRefreshToken: boolean, expiresAt: string | null } }
      | { provider: string, userId: string, token: { state: TokenState, hasRefreshToken: boolean, expiresAt: string | null } }
    > } };


export const MeDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"identities"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"provider"}},{"kind":"Field","name":{"kind":"Name","value":"userId"}},{"kind":"Field","name":{"kind":"Name","value":"token"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"hasRefreshToken"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]}}]}}]}}]} as unknown as DocumentNode<MeQuery, MeQueryVariables>;