import { createHash } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { getRequestParams, requestedOperationId, sha256Hex } from './persisted-operation-id.js';

const HASH = createHash('sha256').update('{ me { id } }').digest('hex');
const persisted = (sha256Hash: unknown, version: unknown = 1) => ({ persistedQuery: { version, sha256Hash } });

/** The GraphQLError requestedOperationId throws (fails the test when it returns). */
function refusal(extensions: unknown, documentId?: unknown): GraphQLError {
  try {
    requestedOperationId(extensions, documentId);
  } catch (error) {
    expect(error).toBeInstanceOf(GraphQLError);
    return error as GraphQLError;
  }
  throw new Error('requestedOperationId accepted the request');
}

describe('sha256Hex', () => {
  it('hashes the UTF-8 text to lower-case hex, as Apollo clients do', () => {
    expect(sha256Hex('{ me { id } }')).toBe(HASH);
    expect(sha256Hex('é')).toBe(createHash('sha256').update(Buffer.from('é', 'utf8')).digest('hex'));
    expect(sha256Hex('é')).not.toBe(createHash('sha256').update(Buffer.from('é', 'latin1')).digest('hex'));
  });
});

describe('requestedOperationId', () => {
  it('names nothing without a persistedQuery extension or documentId', () => {
    expect(requestedOperationId(undefined, undefined)).toBeUndefined();
    expect(requestedOperationId({}, null)).toBeUndefined();
    expect(requestedOperationId({ persistedQuery: null, other: 1 }, undefined)).toBeUndefined();
  });

  it('reads extensions.persistedQuery.sha256Hash, lower-cased', () => {
    expect(requestedOperationId(persisted(HASH), undefined)).toBe(HASH);
    expect(requestedOperationId(persisted(HASH.toUpperCase()), undefined)).toBe(HASH);
  });

  it('reads documentId with or without the sha256: prefix, and custom ids as they are', () => {
    expect(requestedOperationId(undefined, `sha256:${HASH}`)).toBe(HASH);
    expect(requestedOperationId(undefined, HASH)).toBe(HASH);
    expect(requestedOperationId(undefined, 'UserById@2')).toBe('UserById@2');
  });

  it('accepts both forms when they name the same document', () => {
    expect(requestedOperationId(persisted(HASH), `sha256:${HASH.toUpperCase()}`)).toBe(HASH);
  });

  it.each([
    ['two different documents', persisted(HASH), 'other', /different documents/],
    ['persistedQuery version 2', persisted(HASH, 2), undefined, /version/],
    ['persistedQuery without a version', { persistedQuery: { sha256Hash: HASH } }, undefined, /version/],
    ['persistedQuery that is not an object', { persistedQuery: HASH }, undefined, /must be an object/],
    ['a numeric sha256Hash', persisted(42), undefined, /sha256Hash must be a non-empty string/],
    ['an empty sha256Hash', persisted(''), undefined, /sha256Hash must be a non-empty string/],
    ['a numeric documentId', undefined, 7, /documentId must be a non-empty string/],
    ['an overlong documentId', undefined, 'x'.repeat(300), /at most 256 characters/],
  ])('refuses %s with 400 BAD_REQUEST', (_case, extensions, documentId, message) => {
    const error = refusal(extensions, documentId);
    expect(error.message).toMatch(message);
    expect(error.extensions).toEqual({ code: 'BAD_REQUEST', http: { status: 400 } });
  });

  it('never echoes the id it refuses', () => {
    const secretish = `s3cr3t-${'y'.repeat(300)}`;
    expect(refusal(undefined, secretish).message).not.toContain('s3cr3t');
  });
});

describe('getRequestParams', () => {
  it('reads the parameters of a GET request, documentId included, JSON-decoding variables and extensions', () => {
    const search = new URLSearchParams({
      operationName: 'Me',
      variables: '{"id":"x"}',
      extensions: JSON.stringify(persisted(HASH)),
      documentId: `sha256:${HASH}`,
    });
    expect(getRequestParams(search)).toEqual({
      query: undefined,
      operationName: 'Me',
      variables: { id: 'x' },
      extensions: persisted(HASH),
      documentId: `sha256:${HASH}`,
    });
    expect(getRequestParams(new URLSearchParams({ query: '{ me { id } }', variables: '' }))).toEqual({ query: '{ me { id } }' });
  });

  it.each(['variables', 'extensions'])('refuses %s that are not JSON with 400 BAD_REQUEST', (name) => {
    let error: unknown;
    try {
      getRequestParams(new URLSearchParams({ [name]: '{not json' }));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(GraphQLError);
    expect((error as GraphQLError).message).toBe(`The ${name} parameter is not JSON.`);
    expect((error as GraphQLError).extensions).toEqual({ code: 'BAD_REQUEST', http: { status: 400 } });
  });
});
