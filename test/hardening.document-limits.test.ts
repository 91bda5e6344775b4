import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { errorCodes, postGraphQL, startHarness, type Harness } from './helpers/harness.js';

// Documents over the depth, alias, token or directive limits are refused
// before execution with BAD_USER_INPUT and a message naming the limit; GraphiQL's introspection
// query still works; a query nested 5,000 levels no longer overflows the parser's stack into a
// logged stack trace. (That the parse caches cannot be filled with hostile documents is a unit
// test: src/plugins/parser-caches.test.ts.)

let h: Harness;
let ada: string;

beforeAll(async () => {
  h = await startHarness({ redis: false });
  ada = await h.token(SEED_USERS.ada);
});
afterAll(async () => h?.close());

/** `{ me { ... on User { ... on User { … id } } } }`: each inline fragment is one level deeper. */
function nested(levels: number): string {
  return `{ me { ${'... on User { '.repeat(levels)}id${' }'.repeat(levels)} } }`;
}

async function refusal(query: string, url = h.main.url) {
  const answer = await postGraphQL(url, ada, query);
  expect(answer.status).toBe(400);
  expect(answer.data).toBeUndefined();
  expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
  return answer.errors![0]!.message;
}

describe('document limits (defaults)', () => {
  it('refuses depth 16 (MAX_DEPTH 15) and runs depth 15', async () => {
    expect(await refusal(nested(14))).toBe('Query depth limit of 15 exceeded, found 16.');
    const answer = await h.query(ada, nested(13));
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ me: { id: SEED_USERS.ada } });
  });

  it("runs GraphiQL's full introspection query", async () => {
    const query = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
    });
    const answer = await h.query<{ __schema: { types: { name: string }[] } }>(ada, query);
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.__schema.types.map((type) => type.name)).toContain('GoogleIdentity');
  });

  it('refuses 16 aliases (MAX_ALIASES 15)', async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: me { id }`).join(' ');
    expect(await refusal(`{ ${aliases} }`)).toBe('Aliases limit of 15 exceeded, found 16.');
  });

  it('refuses 21 directives (MAX_DIRECTIVES 20)', async () => {
    expect(await refusal(`{ me { ${'... on User @include(if: true) { id } '.repeat(21)} } }`)).toBe('Directives limit of 20 exceeded, found 21.');
  });

  it('refuses 2,001 tokens (MAX_TOKENS 2000) while parsing', async () => {
    expect(await refusal(`{ me { ${'id '.repeat(1997)} } }`)).toBe('Token limit of 2000 exceeded.');
  });

  it('refuses a query nested 5,000 levels at the token limit, in milliseconds, without a stack trace in the log', async () => {
    const started = performance.now();
    expect(await refusal(`{ ${'me { '.repeat(5000)}id${' }'.repeat(5000)} }`)).toBe('Token limit of 2000 exceeded.');
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(h.main.logs.join('\n')).not.toMatch(/"stack"|RangeError|Maximum call stack/);
  });

  it('shows field suggestions to authenticated callers only (unauthenticated ones get a bare 401)', async () => {
    const answer = await h.query(ada, '{ me { idd } }');
    expect(answer.status).toBe(400);
    expect(answer.errors?.[0]?.message).toMatch(/Did you mean "id"\?/);
    const anonymous = await h.query(undefined, '{ me { idd } }');
    expect(anonymous.status).toBe(401);
    expect(JSON.stringify(anonymous)).not.toMatch(/Did you mean/);
  });
});

describe('document limits (configured)', () => {
  it('takes MAX_DEPTH, MAX_ALIASES, MAX_TOKENS and MAX_DIRECTIVES from the environment', async () => {
    const strict = await h.startGateway({ MAX_DEPTH: '3', MAX_ALIASES: '1', MAX_TOKENS: '30', MAX_DIRECTIVES: '0' });
    expect(await refusal('{ me { google { profile { sub } } } }', strict.url)).toBe('Query depth limit of 3 exceeded, found 4.');
    expect(await refusal('{ a: me { id } b: me { id } }', strict.url)).toBe('Aliases limit of 1 exceeded, found 2.');
    expect(await refusal(`{ me { ${'id '.repeat(30)} } }`, strict.url)).toBe('Token limit of 30 exceeded.');
    expect(await refusal('{ me { id @include(if: true) } }', strict.url)).toBe('Directives limit of 0 exceeded, found 1.');
  });

  it('refuses a 5,000-level document that would overflow the parser, with the token limit lifted, as bad input', async () => {
    const lifted = await h.startGateway({ MAX_TOKENS: '10000000', MAX_DEPTH: '100000', MAX_BODY_BYTES: '4000000' });
    const message = await refusal(`{ ${'me { '.repeat(50_000)}id${' }'.repeat(50_000)} }`, lifted.url);
    expect(message).toBe('The document is nested too deeply to parse.');
    expect(lifted.logs.join('\n')).not.toMatch(/"stack"|RangeError|Maximum call stack/);
  });
});
