/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
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

export type MyAccountsQueryVariables = Exact<{ [key: string]: never; }>;


export type MyAccountsQuery = { me: { id: string, name: string | null, identities: Array<
      | { provider: string, connection: string, token: { state: TokenState } }
      | { provider: string, connection: string, token: { state: TokenState } }
      | { provider: string, connection: string, token: { state: TokenState } }
      | { provider: string, connection: string, token: { state: TokenState } }
      | { provider: string, connection: string, token: { state: TokenState } }
      | { provider: string, connection: string, token: { state: TokenState } }
      | { provider: string, connection: string, token: { state: TokenState } }
    >, google: { profile: { email: string | null, name: string | null } | null } | null, facebook: { profile: { name: string | null } | null } | null, github: { profile: { login: string } | null, repositories: { edges: Array<{ node: { nameWithOwner: string } }> } | null } | null, microsoft: { profile: { displayName: string | null } | null } | null } };

export type MobileProfileQueryVariables = Exact<{ [key: string]: never; }>;


export type MobileProfileQuery = { me: { id: string, name: string | null, picture: string | null, identities: Array<
      | { provider: string, token: { state: TokenState, expiresAt: string | null } }
      | { provider: string, token: { state: TokenState, expiresAt: string | null } }
      | { provider: string, token: { state: TokenState, expiresAt: string | null } }
      | { provider: string, token: { state: TokenState, expiresAt: string | null } }
      | { provider: string, token: { state: TokenState, expiresAt: string | null } }
      | { provider: string, token: { state: TokenState, expiresAt: string | null } }
      | { provider: string, token: { state: TokenState, expiresAt: string | null } }
    > } };

export type PartnerUsersQueryVariables = Exact<{
  ids: Array<string | number> | string | number;
}>;


export type PartnerUsersQuery = { users: Array<{ id: string, name: string | null, email: string | null, google: { connection: string, accessToken: string | null, token: { state: TokenState, expiresAt: string | null } } | null } | null> };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}

export const MyAccountsDocument = new TypedDocumentString(`
    query MyAccounts {
  me {
    id
    name
    identities {
      provider
      connection
      token {
        state
      }
    }
    google {
      profile {
        email
        name
      }
    }
    facebook {
      profile {
        name
      }
    }
    github {
      profile {
        login
      }
      repositories(first: 3) {
        edges {
          node {
            nameWithOwner
          }
        }
      }
    }
    microsoft {
      profile {
        displayName
      }
    }
  }
}
    `, {"hash":"sha256:96a88cae3bcb735464d8a77f5d0ddaca3cbcfe2400f589facb0964fd97e576ab"}) as unknown as TypedDocumentString<MyAccountsQuery, MyAccountsQueryVariables>;
export const MobileProfileDocument = new TypedDocumentString(`
    query MobileProfile {
  me {
    id
    name
    picture
    identities {
      provider
      token {
        state
        expiresAt
      }
    }
  }
}
    `, {"hash":"sha256:5860a671fc60dd0e8b9b7126abf3d92a95b44f24ffd86f541422003403f9c83b"}) as unknown as TypedDocumentString<MobileProfileQuery, MobileProfileQueryVariables>;
export const PartnerUsersDocument = new TypedDocumentString(`
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
    `, {"hash":"sha256:adb3a4ef8567e660ecb640f78fa218a58caf7d8e208ff5f1ec31c7c3337891d1"}) as unknown as TypedDocumentString<PartnerUsersQuery, PartnerUsersQueryVariables>;