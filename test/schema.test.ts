import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GraphQLEnumType, GraphQLInterfaceType, GraphQLObjectType, GraphQLScalarType, buildSchema, type GraphQLField, type GraphQLSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { printGatewaySchema } from '../src/graphql/schema.js';

// The committed SDL is the public schema clients build against: it must be what the code builds
// (`npm run schema:check`), carry the promised types, fields, arguments and defaults exactly, and
// document itself (a description on every field, so the SDL is the API reference).

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SDL_PATH = path.join(ROOT, 'schema/schema.graphql');
const committed = readFileSync(SDL_PATH, 'utf8');
const schema: GraphQLSchema = buildSchema(committed);

const IDENTITY_TYPES = [
  'GoogleIdentity',
  'FacebookIdentity',
  'BitbucketIdentity',
  'OAuth2Identity',
  'GitHubIdentity',
  'MicrosoftIdentity',
  'GenericIdentity',
] as const;

function objectType(name: string): GraphQLObjectType {
  const type = schema.getType(name);
  expect(type, `type ${name}`).toBeInstanceOf(GraphQLObjectType);
  return type as GraphQLObjectType;
}

function interfaceType(name: string): GraphQLInterfaceType {
  const type = schema.getType(name);
  expect(type, `interface ${name}`).toBeInstanceOf(GraphQLInterfaceType);
  return type as GraphQLInterfaceType;
}

/** `field` of `type` with its type as printed in SDL, e.g. `[ID!]!`. */
function field(type: GraphQLObjectType | GraphQLInterfaceType, name: string): GraphQLField<unknown, unknown> {
  const found = type.getFields()[name];
  expect(found, `${type.name}.${name}`).toBeDefined();
  return found!;
}

function typeOf(type: GraphQLObjectType | GraphQLInterfaceType, name: string): string {
  return field(type, name).type.toString();
}

function argsOf(type: GraphQLObjectType | GraphQLInterfaceType, name: string): Record<string, string> {
  return Object.fromEntries(field(type, name).args.map((arg) => [arg.name, arg.type.toString()]));
}

describe('committed SDL', () => {
  it('equals the schema the code builds (printGatewaySchema)', () => {
    expect(committed).toBe(printGatewaySchema());
  });

  it('passes `scripts/print-schema.ts --check` (npm run schema:check)', async () => {
    const tsx = path.join(ROOT, 'node_modules/.bin/tsx');
    const { stdout } = await promisify(execFile)(tsx, ['scripts/print-schema.ts', '--check'], { cwd: ROOT, timeout: 15_000 });
    // execFile rejects on a non-zero exit, so reaching here means exit code 0.
    expect(stdout).toMatch(/current/);
  });
});

describe('schema has the promised public types', () => {
  it('has the scalars DateTime and JSON', () => {
    expect(schema.getType('DateTime')).toBeInstanceOf(GraphQLScalarType);
    expect(schema.getType('JSON')).toBeInstanceOf(GraphQLScalarType);
  });

  it('has Query.me: User!, Query.user(id: ID!): User and Query.users(ids: [ID!]!): [User]!', () => {
    const query = schema.getQueryType();
    expect(query).toBeDefined();
    expect(typeOf(query!, 'me')).toBe('User!');
    expect(argsOf(query!, 'me')).toEqual({});
    expect(typeOf(query!, 'user')).toBe('User');
    expect(argsOf(query!, 'user')).toEqual({ id: 'ID!' });
    expect(typeOf(query!, 'users')).toBe('[User]!');
    expect(argsOf(query!, 'users')).toEqual({ ids: '[ID!]!' });
  });

  it('has no mutations or subscriptions', () => {
    expect(schema.getMutationType()).toBeUndefined();
    expect(schema.getSubscriptionType()).toBeUndefined();
  });

  it('has User with id, profile fields, identities and the nullable provider identities', () => {
    const user = objectType('User');
    expect(typeOf(user, 'id')).toBe('ID!');
    expect(typeOf(user, 'email')).toBe('String');
    expect(typeOf(user, 'name')).toBe('String');
    expect(typeOf(user, 'picture')).toBe('String');
    expect(typeOf(user, 'identities')).toBe('[Identity!]!');
    expect(typeOf(user, 'google')).toBe('GoogleIdentity');
    expect(typeOf(user, 'facebook')).toBe('FacebookIdentity');
    expect(typeOf(user, 'bitbucket')).toBe('BitbucketIdentity');
    expect(typeOf(user, 'github')).toBe('GitHubIdentity');
  });

  it('has the Identity interface with provider, connection, userId, isSocial and token', () => {
    const identity = interfaceType('Identity');
    expect(typeOf(identity, 'provider')).toBe('String!');
    expect(typeOf(identity, 'connection')).toBe('String!');
    expect(typeOf(identity, 'userId')).toBe('String!');
    expect(typeOf(identity, 'isSocial')).toBe('Boolean!');
    expect(typeOf(identity, 'token')).toBe('TokenStatus!');
  });

  it.each(IDENTITY_TYPES)('has %s implementing Identity with every Identity field, same types', (name) => {
    const type = objectType(name);
    expect(type.getInterfaces().map((i) => i.name)).toContain('Identity');
    for (const [fieldName, interfaceField] of Object.entries(interfaceType('Identity').getFields())) {
      expect(typeOf(type, fieldName), `${name}.${fieldName}`).toBe(interfaceField.type.toString());
    }
  });

  it('makes exactly the listed identity types implement Identity', () => {
    expect(
      schema
        .getPossibleTypes(interfaceType('Identity'))
        .map((t) => t.name)
        .sort(),
    ).toEqual([...IDENTITY_TYPES].sort());
  });

  it('has TokenStatus with expiresAt: DateTime, hasRefreshToken: Boolean! and state: TokenState!', () => {
    const status = objectType('TokenStatus');
    expect(typeOf(status, 'expiresAt')).toBe('DateTime');
    expect(typeOf(status, 'hasRefreshToken')).toBe('Boolean!');
    expect(typeOf(status, 'state')).toBe('TokenState!');
  });

  it('has TokenState with exactly VALID, EXPIRED, REAUTHENTICATION_REQUIRED and UNKNOWN', () => {
    const state = schema.getType('TokenState');
    expect(state).toBeInstanceOf(GraphQLEnumType);
    expect(
      (state as GraphQLEnumType)
        .getValues()
        .map((v) => v.name)
        .sort(),
    ).toEqual(['EXPIRED', 'REAUTHENTICATION_REQUIRED', 'UNKNOWN', 'VALID']);
  });

  it('exposes no field that could carry a refresh token or client secret', () => {
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (!(type instanceof GraphQLObjectType || type instanceof GraphQLInterfaceType)) continue;
      for (const name of Object.keys(type.getFields())) {
        expect(name, `${type.name}.${name}`).not.toMatch(/^refresh_?token$|secret/i);
      }
    }
  });

  it('has the token fields (enterpriseConnection, accessToken, adminToken)', () => {
    expect(argsOf(objectType('Query'), 'enterpriseConnection')).toEqual({ name: 'String!' });
    expect(typeOf(objectType('Query'), 'enterpriseConnection')).toBe('EnterpriseConnection');
    expect(typeOf(interfaceType('Identity'), 'accessToken')).toBe('String');
    for (const name of IDENTITY_TYPES) expect(typeOf(objectType(name), 'accessToken')).toBe('String');
    const connection = objectType('EnterpriseConnection');
    expect([typeOf(connection, 'id'), typeOf(connection, 'name'), typeOf(connection, 'strategy')]).toEqual(['ID!', 'String!', 'String!']);
    expect([typeOf(connection, 'adminToken'), typeOf(connection, 'adminAccessToken')]).toEqual(['TokenStatus', 'String']);
  });

  it('has the provider fields with their exact arguments', () => {
    const google = objectType('GoogleIdentity');
    expect(typeOf(google, 'profile')).toBe('GoogleProfile');
    expect(typeOf(google, 'calendarEvents')).toBe('GoogleCalendarEventConnection');
    expect(argsOf(google, 'calendarEvents')).toEqual({ first: 'Int', after: 'String', timeMin: 'DateTime' });
    expect(argsOf(google, 'driveFiles')).toEqual({ first: 'Int', after: 'String', query: 'String' });
    const facebook = objectType('FacebookIdentity');
    expect(typeOf(facebook, 'profile')).toBe('FacebookProfile');
    expect(argsOf(facebook, 'friends')).toEqual({ first: 'Int', after: 'String' });
    const bitbucket = objectType('BitbucketIdentity');
    expect(typeOf(bitbucket, 'account')).toBe('BitbucketAccount');
    expect(argsOf(bitbucket, 'workspaces')).toEqual({ first: 'Int', after: 'String' });
    expect(argsOf(bitbucket, 'repositories')).toEqual({ workspace: 'String!', first: 'Int', after: 'String' });
    expect(argsOf(objectType('OAuth2Identity'), 'request')).toEqual({ path: 'String!', query: 'JSON' });
    expect(typeOf(objectType('OAuth2Identity'), 'request')).toBe('JSON');
    const github = objectType('GitHubIdentity');
    expect(typeOf(github, 'profile')).toBe('GitHubProfile');
    expect(typeOf(github, 'repositories')).toBe('GitHubRepositoryConnection');
    expect(argsOf(github, 'repositories')).toEqual({ first: 'Int', after: 'String' });
    // The promised page-size defaults: 10, except Facebook friends' 25.
    const defaultOf = (type: GraphQLObjectType, fieldName: string, arg: string) => field(type, fieldName).args.find((a) => a.name === arg)?.defaultValue;
    expect([defaultOf(google, 'calendarEvents', 'first'), defaultOf(google, 'driveFiles', 'first'), defaultOf(facebook, 'friends', 'first')]).toEqual([
      10, 10, 25,
    ]);
    expect([defaultOf(bitbucket, 'workspaces', 'first'), defaultOf(bitbucket, 'repositories', 'first')]).toEqual([10, 10]);
    expect(defaultOf(github, 'repositories', 'first')).toBe(10);
    const expectedTypes: Record<string, Record<string, string>> = {
      GoogleProfile: { sub: 'String!', email: 'String', emailVerified: 'Boolean', name: 'String', picture: 'String' },
      GoogleCalendarEvent: { id: 'ID!', summary: 'String', start: 'DateTime', end: 'DateTime', htmlLink: 'String' },
      GoogleDriveFile: { id: 'ID!', name: 'String!', mimeType: 'String', modifiedTime: 'DateTime' },
      FacebookProfile: { id: 'ID!', name: 'String', email: 'String', pictureUrl: 'String' },
      FacebookFriend: { id: 'ID!', name: 'String' },
      BitbucketAccount: { uuid: 'ID!', accountId: 'String', displayName: 'String', nickname: 'String', avatarUrl: 'String' },
      BitbucketWorkspace: { uuid: 'ID!', slug: 'String!', name: 'String' },
      BitbucketRepository: { uuid: 'ID!', fullName: 'String!', name: 'String!', isPrivate: 'Boolean!', updatedOn: 'DateTime', htmlUrl: 'String' },
      GitHubProfile: { login: 'String!', name: 'String', email: 'String', avatarUrl: 'String', url: 'String' },
      GitHubRepository: {
        id: 'ID!',
        nameWithOwner: 'String!',
        description: 'String',
        isPrivate: 'Boolean!',
        url: 'String!',
        updatedAt: 'DateTime',
        stargazerCount: 'Int!',
      },
    };
    for (const [typeName, fields] of Object.entries(expectedTypes)) {
      for (const [fieldName, type] of Object.entries(fields))
        expect(`${typeName}.${fieldName}: ${typeOf(objectType(typeName), fieldName)}`).toBe(`${typeName}.${fieldName}: ${type}`);
    }
    for (const node of ['GoogleCalendarEvent', 'GoogleDriveFile', 'FacebookFriend', 'BitbucketWorkspace', 'BitbucketRepository', 'GitHubRepository']) {
      const connection = objectType(`${node}Connection`);
      const edgeType = typeOf(connection, 'edges').replace(/[[\]!]/g, '');
      expect(typeOf(objectType(edgeType), 'node')).toBe(`${node}!`);
      expect(typeOf(objectType(edgeType), 'cursor')).toBe('String!');
      expect(typeOf(objectType('PageInfo'), 'hasNextPage')).toBe('Boolean!');
      expect(typeOf(objectType('PageInfo'), 'endCursor')).toBe('String');
    }
  });
});

describe('Microsoft Graph fields (contract §10)', () => {
  it('has User.microsoft and MicrosoftIdentity exactly as promised', () => {
    expect(typeOf(objectType('User'), 'microsoft')).toBe('MicrosoftIdentity');
    const identity = objectType('MicrosoftIdentity');
    expect(typeOf(identity, 'profile')).toBe('MicrosoftProfile');
    for (const [name, node] of [
      ['events', 'MicrosoftEvent'],
      ['messages', 'MicrosoftMessage'],
      ['driveItems', 'MicrosoftDriveItem'],
    ] as const) {
      expect(typeOf(identity, name)).toBe(`${node}Connection`);
      expect(argsOf(identity, name)).toEqual({ first: 'Int', after: 'String' });
      expect(field(identity, name).args.find((arg) => arg.name === 'first')?.defaultValue).toBe(10);
      const edgeType = typeOf(objectType(`${node}Connection`), 'edges').replace(/[[\]!]/g, '');
      expect(typeOf(objectType(edgeType), 'node')).toBe(`${node}!`);
    }
    const expected: Record<string, Record<string, string>> = {
      MicrosoftProfile: { id: 'ID!', displayName: 'String', mail: 'String', userPrincipalName: 'String' },
      MicrosoftEvent: { id: 'ID!', subject: 'String', start: 'DateTime', end: 'DateTime', webLink: 'String' },
      MicrosoftMessage: { id: 'ID!', subject: 'String', from: 'String', receivedDateTime: 'DateTime', isRead: 'Boolean' },
      MicrosoftDriveItem: { id: 'ID!', name: 'String!', size: 'Float', lastModifiedDateTime: 'DateTime', webUrl: 'String', isFolder: 'Boolean!' },
    };
    for (const [typeName, fields] of Object.entries(expected)) {
      const type = objectType(typeName);
      expect(Object.fromEntries(Object.entries(type.getFields()).map(([name, f]) => [name, f.type.toString()]))).toEqual(fields);
    }
  });
});

describe('the SDL documents itself', () => {
  const userTypes = Object.values(schema.getTypeMap()).filter((type) => !type.name.startsWith('__'));

  it('describes every field of every object and interface type', () => {
    const undocumented: string[] = [];
    for (const type of userTypes) {
      if (!(type instanceof GraphQLObjectType || type instanceof GraphQLInterfaceType)) continue;
      for (const f of Object.values(type.getFields())) {
        if (!f.description?.trim()) undocumented.push(`${type.name}.${f.name}`);
      }
    }
    expect(undocumented).toEqual([]);
  });

  it('describes every type, argument and enum value', () => {
    const undocumented: string[] = [];
    for (const type of userTypes) {
      if (!type.description?.trim()) undocumented.push(type.name);
      if (type instanceof GraphQLObjectType || type instanceof GraphQLInterfaceType) {
        for (const f of Object.values(type.getFields())) {
          for (const arg of f.args) if (!arg.description?.trim()) undocumented.push(`${type.name}.${f.name}(${arg.name})`);
        }
      }
      if (type instanceof GraphQLEnumType) {
        for (const value of type.getValues()) if (!value.description?.trim()) undocumented.push(`${type.name}.${value.name}`);
      }
    }
    expect(undocumented).toEqual([]);
  });
});
