import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { estimateUpstreamCalls } from '../src/graphql/cost.js';
import { schema } from '../src/graphql/schema.js';

// What an operation can cost upstream, estimated before execution from the costs the
// schema's fields declare. A pure function of the schema, the document and the variables: no Redis.

const estimate = (query: string, variables: Record<string, unknown> = {}, operationName?: string) =>
  estimateUpstreamCalls(schema, parse(query), operationName, variables);

describe('the README examples stay well inside the default budget (100)', () => {
  it.each([
    [
      'me with identities and token states',
      '{ me { id email identities { provider connection userId isSocial token { state expiresAt hasRefreshToken } } } }',
      1,
    ],
    [
      'Google',
      '{ me { google { profile { email name } calendarEvents(first: 5) { edges { node { summary } } } driveFiles(first: 5) { edges { node { name } } } } } }',
      4,
    ],
    ['Facebook', '{ me { facebook { profile { id } friendCount friends(first: 25) { edges { cursor } } } } }', 4],
    [
      'Bitbucket',
      '{ me { bitbucket { account { uuid } workspaces(first: 10) { edges { node { slug } } } repositories(workspace: "w", first: 10) { edges { node { fullName } } } } } }',
      4,
    ],
    ['custom OAuth2', '{ me { identities { ... on OAuth2Identity { connection request(path: "/items", query: { page: 2 }) } } } }', 2],
    ['a partner batch', '{ users(ids: ["a", "b", "c"]) { id name google { token { state } } identities { __typename provider userId } } }', 1],
  ])('%s costs %i', (_name, query, cost) => {
    expect(estimate(query).cost).toBe(cost);
  });

  it('users(ids:) with 100 ids reading token and accessToken costs 2 (two Management searches)', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `auth0|${i}`);
    const result = estimate('query ($ids: [ID!]!) { users(ids: $ids) { id identities { token { state } accessToken } } }', { ids });
    expect(result).toEqual({ cost: 2, userIds: 100 });
  });
});

describe('multipliers', () => {
  it('counts each alias of a provider field', () => {
    expect(estimate('{ me { google { a: profile { sub } b: profile { email } c: calendarEvents { edges { cursor } } } } }').cost).toBe(4);
  });

  it('multiplies provider fields under users(ids:) by the number of ids, literal or variable', () => {
    expect(estimate('{ users(ids: ["a", "b", "c"]) { google { profile { sub } } } }').cost).toBe(3 + 1);
    const ids = Array.from({ length: 60 }, (_, i) => `x${i}`);
    expect(estimate('query ($ids: [ID!]!) { users(ids: $ids) { facebook { profile { id } } } }', { ids })).toEqual({ cost: 60 + 2, userIds: 60 });
    expect(estimate('query ($id: ID!) { user(id: $id) { bitbucket { account { uuid } } } }', { id: 'u' })).toEqual({ cost: 2, userIds: 1 });
  });

  it('follows named fragments and inline fragments', () => {
    const query = `
      query { me { ...Providers identities { ... on GoogleIdentity { driveFiles { edges { cursor } } } } } }
      fragment Providers on User { google { ...Google } facebook { friendCount } }
      fragment Google on GoogleIdentity { profile { sub } }`;
    expect(estimate(query).cost).toBe(3 + 1);
  });

  it('skips fields under @skip(if: true) and @include(if: false), literal or variable', () => {
    expect(estimate('{ me { google @skip(if: true) { profile { sub } } } }').cost).toBe(1);
    expect(estimate('query ($on: Boolean!) { me { google @include(if: $on) { profile { sub } } } }', { on: false }).cost).toBe(1);
    expect(estimate('query ($on: Boolean!) { me { google @include(if: $on) { profile { sub } } } }', { on: true }).cost).toBe(2);
  });

  it('estimates only the operation asked for', () => {
    const document = 'query Cheap { me { id } } query Dear { me { google { profile { sub } calendarEvents { edges { cursor } } } } }';
    expect(estimate(document, {}, 'Cheap').cost).toBe(1);
    expect(estimate(document, {}, 'Dear').cost).toBe(3);
  });

  it('counts user ids across user and users fields and aliases, but not me', () => {
    expect(estimate('{ me { id } a: users(ids: ["1", "2"]) { id } b: user(id: "3") { id } c: users(ids: ["1"]) { id } }').userIds).toBe(4);
  });

  it('costs nothing for introspection', () => {
    expect(estimate('{ __schema { types { name fields { name } } } __typename }')).toEqual({ cost: 0, userIds: 0 });
  });

  it('counts enterpriseConnection as one Management read', () => {
    expect(estimate('{ a: enterpriseConnection(name: "x") { id } b: enterpriseConnection(name: "y") { adminToken { state } } }').cost).toBe(2);
  });
});
