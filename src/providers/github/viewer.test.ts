import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { BadUserInputError, GatewayError, ProviderRateLimitedError } from '../../errors.js';
import { buildViewerDocument, partKey, readViewerAnswer, type ViewerPart } from './viewer.js';

// One document per identity: the parts a request asks of one GitHub account become one `viewer`
// document (aliases ours, caller input only in variables), and GitHub's answer is split back into
// one result per part, each error landing on the part its path runs through.

/** The slice of GitHub's schema the document uses, with GitHub's nullability. */
const GITHUB = buildSchema(`
  scalar URI
  scalar DateTime
  type Query { viewer: User! }
  type User { login: String! name: String email: String! avatarUrl: URI! url: URI!
    repositories(first: Int, after: String, orderBy: RepositoryOrder): RepositoryConnection! }
  type RepositoryConnection { pageInfo: PageInfo! nodes: [Repository] totalCount: Int! }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type Repository { id: ID! nameWithOwner: String! description: String isPrivate: Boolean! url: URI! updatedAt: DateTime! stargazerCount: Int! }
  input RepositoryOrder { field: RepositoryOrderField! direction: OrderDirection! }
  enum RepositoryOrderField { CREATED_AT UPDATED_AT }
  enum OrderDirection { ASC DESC }
`);

const PROFILE: ViewerPart = { kind: 'profile' };
const FIRST_PAGE: ViewerPart = { kind: 'repositories', first: 5 };
const SECOND_PAGE: ViewerPart = { kind: 'repositories', first: 5, after: 'Y3Vyc29yOnYyOjQ=' };

const repository = (n: number) => ({
  id: `R_${n}`,
  nameWithOwner: `octo/r${n}`,
  description: n % 2 ? `repo ${n}` : '',
  isPrivate: n === 2,
  url: `https://github.com/octo/r${n}`,
  updatedAt: '2026-11-30T10:00:00Z',
  stargazerCount: n,
});

describe('buildViewerDocument', () => {
  it('asks every part in one valid document: profile fields, then each page under its own alias', () => {
    const document = buildViewerDocument([PROFILE, FIRST_PAGE, SECOND_PAGE]);
    expect(validate(GITHUB, parse(document.query))).toEqual([]);
    expect(document.query).toBe(
      'query GatewayViewer($r0First: Int!, $r0After: String, $r1First: Int!, $r1After: String) { viewer { login name email avatarUrl url ' +
        'r0: repositories(first: $r0First, after: $r0After, orderBy: {field: UPDATED_AT, direction: DESC}) { pageInfo { hasNextPage endCursor } nodes { id nameWithOwner description isPrivate url updatedAt stargazerCount } } ' +
        'r1: repositories(first: $r1First, after: $r1After, orderBy: {field: UPDATED_AT, direction: DESC}) { pageInfo { hasNextPage endCursor } nodes { id nameWithOwner description isPrivate url updatedAt stargazerCount } } } }',
    );
    expect(document.variables).toEqual({ r0First: 5, r0After: null, r1First: 5, r1After: 'Y3Vyc29yOnYyOjQ=' });
    expect([...document.aliases]).toEqual([
      [partKey(PROFILE), 'profile'],
      [partKey(FIRST_PAGE), 'r0'],
      [partKey(SECOND_PAGE), 'r1'],
    ]);
  });

  it('asks equal parts once, and only what is asked', () => {
    const document = buildViewerDocument([FIRST_PAGE, { ...FIRST_PAGE }, PROFILE, PROFILE]);
    expect(validate(GITHUB, parse(document.query))).toEqual([]);
    expect(document.aliases.size).toBe(2);
    expect(document.query.match(/repositories\(/g)).toHaveLength(1);
    expect(buildViewerDocument([PROFILE]).query).toBe('query GatewayViewer { viewer { login name email avatarUrl url } }');
  });

  it('never puts caller input into the document text', () => {
    const hostile = 'abc") { x } #';
    expect(() => buildViewerDocument([{ kind: 'repositories', first: 5, after: hostile }])).toThrow(BadUserInputError);
    const cursor = 'Y3Vyc29yOnYyOpHOAAB1dw==';
    const document = buildViewerDocument([{ kind: 'repositories', first: 7, after: cursor }]);
    expect(document.query).not.toContain(cursor);
    expect(document.query).not.toContain('7');
  });

  it('refuses a page size outside 1–100', () => {
    for (const first of [0, -1, 101, 2.5]) expect(() => buildViewerDocument([{ kind: 'repositories', first }]), String(first)).toThrow(BadUserInputError);
    expect(() => buildViewerDocument([{ kind: 'repositories', first: 100 }])).not.toThrow();
  });
});

describe('readViewerAnswer', () => {
  const document = buildViewerDocument([PROFILE, FIRST_PAGE, SECOND_PAGE]);
  const profileKey = partKey(PROFILE);
  const firstKey = partKey(FIRST_PAGE);
  const secondKey = partKey(SECOND_PAGE);
  const viewer = {
    login: 'octo',
    name: 'Octo Cat',
    email: '',
    avatarUrl: 'https://avatars.githubusercontent.com/u/1',
    url: 'https://github.com/octo',
    r0: { pageInfo: { hasNextPage: true, endCursor: 'Y3Vyc29yOnYyOjQ=' }, nodes: [1, 2].map(repository) },
    r1: { pageInfo: { hasNextPage: false, endCursor: 'Y3Vyc29yOnYyOjU=' }, nodes: [repository(3)] },
  };

  it('splits a full answer into its parts; an empty email or description is null, the last page has no next token', () => {
    const results = readViewerAnswer(document, { data: { viewer }, headers: {} });
    expect(results.get(profileKey)).toEqual({
      login: 'octo',
      name: 'Octo Cat',
      email: null,
      avatarUrl: 'https://avatars.githubusercontent.com/u/1',
      url: 'https://github.com/octo',
    });
    expect(results.get(firstKey)).toEqual({
      items: [
        { ...repository(1), description: 'repo 1' },
        { ...repository(2), description: null },
      ],
      next: 'Y3Vyc29yOnYyOjQ=',
    });
    expect(results.get(secondKey)).toEqual({ items: [{ ...repository(3) }], next: undefined });
  });

  it('fails only the part whose path holds the error (partial data)', () => {
    const errors = [
      {
        type: 'FORBIDDEN',
        path: ['viewer', 'r1', 'nodes', 0],
        locations: [{ line: 1, column: 300 }],
        message: 'Resource protected by organization SAML enforcement. You must grant your OAuth token access to acme.',
      },
    ];
    const results = readViewerAnswer(document, { data: { viewer: { ...viewer, r1: { ...viewer.r1, nodes: [null] } } }, errors, headers: {} });
    expect(results.get(profileKey)).toMatchObject({ login: 'octo' });
    expect(results.get(firstKey)).toMatchObject({ items: [{ id: 'R_1' }, { id: 'R_2' }] });
    const failed = results.get(secondKey);
    expect(failed).toBeInstanceOf(GatewayError);
    expect((failed as GatewayError).extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', provider: 'github' });
    expect((failed as GatewayError).message).toContain('FORBIDDEN');
  });

  it('gives null for a part GitHub says is NOT_FOUND, and an error on a profile field to the profile', () => {
    const errors = [
      { type: 'NOT_FOUND', path: ['viewer', 'r0'], message: 'Could not resolve to a node.' },
      { type: 'SERVICE_UNAVAILABLE', path: ['viewer', 'email'], message: 'Something went wrong while executing your query.' },
    ];
    const results = readViewerAnswer(document, { data: { viewer: { ...viewer, r0: null, email: null } }, errors, headers: {} });
    expect(results.get(firstKey)).toBeNull();
    expect((results.get(profileKey) as GatewayError).extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(results.get(secondKey)).toMatchObject({ items: [{ id: 'R_3' }] });
  });

  it('a refused cursor is BAD_USER_INPUT; the parts left without data (non-null propagation) are unavailable', () => {
    const errors = [{ type: 'INVALID_CURSOR_ARGUMENTS', path: ['viewer', 'r1'], message: '`Y3Vyc29yOnYyOjQ=` does not appear to be a valid cursor.' }];
    const results = readViewerAnswer(document, { data: null, errors, headers: {} });
    expect((results.get(secondKey) as GatewayError).extensions.code).toBe('BAD_USER_INPUT');
    expect((results.get(profileKey) as GatewayError).extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    expect((results.get(firstKey) as GatewayError).extensions.code).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('an error of no part (an invalid document) fails every part', () => {
    const errors = [
      {
        path: ['query', 'viewer', 'nope'],
        extensions: { code: 'undefinedField', typeName: 'User', fieldName: 'nope' },
        locations: [{ line: 1, column: 18 }],
        message: "Field 'nope' doesn't exist on type 'User'",
      },
    ];
    const results = readViewerAnswer(document, { errors, headers: {} });
    for (const key of [profileKey, firstKey, secondKey]) {
      expect((results.get(key) as GatewayError).message).toContain("Field 'nope' doesn't exist on type 'User'");
    }
  });

  it('RATE_LIMITED anywhere is PROVIDER_RATE_LIMITED for the whole document, waiting until x-ratelimit-reset', () => {
    const now = Date.UTC(2030, 0, 1, 12, 0, 0);
    const errors = [{ type: 'RATE_LIMITED', message: 'API rate limit exceeded for user ID 1.' }];
    const headers = { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 754) };
    const read = () => readViewerAnswer(document, { errors, headers }, now);
    expect(read).toThrow(ProviderRateLimitedError);
    try {
      read();
    } catch (error) {
      expect((error as GatewayError).extensions).toEqual({ code: 'PROVIDER_RATE_LIMITED', provider: 'github', retryAfter: 754 });
    }
    expect(() => readViewerAnswer(document, { errors, headers: {} }, now)).toThrow(/retry after 60 s/);
  });

  it('never echoes a token GitHub might quote', () => {
    const errors = [{ type: 'FORBIDDEN', path: ['viewer', 'r0'], message: 'token ghu_abcdefghijklmnopqrstuvwxyz0123456789 lacks access' }];
    const results = readViewerAnswer(document, { data: { viewer }, errors, headers: {} });
    expect((results.get(firstKey) as GatewayError).message).not.toContain('ghu_abcdef');
  });

  it('never throws on odd answers', () => {
    for (const data of [undefined, null, 'x', [], { viewer: 'x' }, { viewer: { r0: { nodes: 'x' } } }, { viewer: { login: 1 } }]) {
      for (const errors of [undefined, null, 'x', [null], [{ path: 'x' }], [{ path: [1, 2] }]]) {
        expect(() => readViewerAnswer(document, { data, errors, headers: {} }), JSON.stringify({ data, errors })).not.toThrow();
      }
    }
  });
});
