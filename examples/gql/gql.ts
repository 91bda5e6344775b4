/* eslint-disable */
import * as types from './graphql.js';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query MyAccounts {\n    me {\n      id\n      name\n      identities {\n        provider\n        connection\n        token {\n          state\n        }\n      }\n      google {\n        profile {\n          email\n          name\n        }\n      }\n      facebook {\n        profile {\n          name\n        }\n      }\n      github {\n        profile {\n          login\n        }\n        repositories(first: 3) {\n          edges {\n            node {\n              nameWithOwner\n            }\n          }\n        }\n      }\n      microsoft {\n        profile {\n          displayName\n        }\n      }\n    }\n  }\n": typeof types.MyAccountsDocument,
    "\n  query MobileProfile {\n    me {\n      id\n      name\n      picture\n      identities {\n        provider\n        token {\n          state\n          expiresAt\n        }\n      }\n    }\n  }\n": typeof types.MobileProfileDocument,
    "\n  query PartnerUsers($ids: [ID!]!) {\n    users(ids: $ids) {\n      id\n      name\n      email\n      google {\n        connection\n        token {\n          state\n          expiresAt\n        }\n        accessToken\n      }\n    }\n  }\n": typeof types.PartnerUsersDocument,
};
const documents: Documents = {
    "\n  query MyAccounts {\n    me {\n      id\n      name\n      identities {\n        provider\n        connection\n        token {\n          state\n        }\n      }\n      google {\n        profile {\n          email\n          name\n        }\n      }\n      facebook {\n        profile {\n          name\n        }\n      }\n      github {\n        profile {\n          login\n        }\n        repositories(first: 3) {\n          edges {\n            node {\n              nameWithOwner\n            }\n          }\n        }\n      }\n      microsoft {\n        profile {\n          displayName\n        }\n      }\n    }\n  }\n": types.MyAccountsDocument,
    "\n  query MobileProfile {\n    me {\n      id\n      name\n      picture\n      identities {\n        provider\n        token {\n          state\n          expiresAt\n        }\n      }\n    }\n  }\n": types.MobileProfileDocument,
    "\n  query PartnerUsers($ids: [ID!]!) {\n    users(ids: $ids) {\n      id\n      name\n      email\n      google {\n        connection\n        token {\n          state\n          expiresAt\n        }\n        accessToken\n      }\n    }\n  }\n": types.PartnerUsersDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MyAccounts {\n    me {\n      id\n      name\n      identities {\n        provider\n        connection\n        token {\n          state\n        }\n      }\n      google {\n        profile {\n          email\n          name\n        }\n      }\n      facebook {\n        profile {\n          name\n        }\n      }\n      github {\n        profile {\n          login\n        }\n        repositories(first: 3) {\n          edges {\n            node {\n              nameWithOwner\n            }\n          }\n        }\n      }\n      microsoft {\n        profile {\n          displayName\n        }\n      }\n    }\n  }\n"): typeof import('./graphql.js').MyAccountsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query MobileProfile {\n    me {\n      id\n      name\n      picture\n      identities {\n        provider\n        token {\n          state\n          expiresAt\n        }\n      }\n    }\n  }\n"): typeof import('./graphql.js').MobileProfileDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PartnerUsers($ids: [ID!]!) {\n    users(ids: $ids) {\n      id\n      name\n      email\n      google {\n        connection\n        token {\n          state\n          expiresAt\n        }\n        accessToken\n      }\n    }\n  }\n"): typeof import('./graphql.js').PartnerUsersDocument;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}
