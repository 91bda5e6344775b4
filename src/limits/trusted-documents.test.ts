import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isSha256Hex, normalizeDocumentId, parseTrustedDocuments, readTrustedDocuments } from './trusted-documents.js';

const ME = 'query Me { me { id } }';
const HASH = createHash('sha256').update(ME).digest('hex');

function manifest(operations: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations, ...extra });
}

describe('normalizeDocumentId', () => {
  it('drops the sha256: prefix and lower-cases a SHA-256 hex digest', () => {
    expect(normalizeDocumentId(`sha256:${HASH}`)).toBe(HASH);
    expect(normalizeDocumentId(HASH.toUpperCase())).toBe(HASH);
    expect(normalizeDocumentId(`sha256:${HASH.toUpperCase()}`)).toBe(HASH);
  });

  it('keeps any other id as it is, case included', () => {
    expect(normalizeDocumentId('UserById@1')).toBe('UserById@1');
    expect(normalizeDocumentId('sha256:UserById')).toBe('UserById');
    expect(normalizeDocumentId('ABC')).toBe('ABC');
    expect(normalizeDocumentId('SHA256:abc')).toBe('SHA256:abc');
  });

  it('tells a SHA-256 hex digest from other ids', () => {
    expect(isSha256Hex(HASH)).toBe(true);
    expect(isSha256Hex(HASH.slice(1))).toBe(false);
    expect(isSha256Hex(`${HASH.slice(1)}g`)).toBe(false);
  });
});

describe('parseTrustedDocuments', () => {
  it('reads the operations of a manifest by normalized id', () => {
    const documents = parseTrustedDocuments(
      manifest([
        { id: HASH.toUpperCase(), name: 'Me', type: 'query', body: ME },
        { id: 'user@1', name: 'User', type: 'query', body: 'query User($id: ID!) { user(id: $id) { id } }' },
      ]),
    );
    expect([...documents.keys()]).toEqual([HASH, 'user@1']);
    expect(documents.get(HASH)).toEqual({ id: HASH, name: 'Me', type: 'query', body: ME });
  });

  it('refuses text that is not JSON', () => {
    expect(() => parseTrustedDocuments('{"format":')).toThrow(/^is not JSON/);
  });

  it.each([
    ['another format', manifest([{ id: 'a', name: 'A', type: 'query', body: ME }], { format: 'relay' }), /format/],
    ['another version', manifest([{ id: 'a', name: 'A', type: 'query', body: ME }], { version: 2 }), /version/],
    ['no operations array', JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1 }), /operations/],
    ['an operation without a body', manifest([{ id: 'a', name: 'A', type: 'query' }]), /operations\[0\]\.body/],
    ['an empty id', manifest([{ id: ' ', name: 'A', type: 'query', body: ME }]), /operations\[0\]\.id/],
    ['an unknown type', manifest([{ id: 'a', name: 'A', type: 'fragment', body: ME }]), /operations\[0\]\.type/],
    ['an array', '[]', /apollo-persisted-query-manifest/],
  ])('refuses %s, saying where', (_case, text, where) => {
    expect(() => parseTrustedDocuments(text)).toThrow(/^is not an apollo-persisted-query-manifest of version 1/);
    expect(() => parseTrustedDocuments(text)).toThrow(where);
  });

  it('refuses a manifest listing no operation', () => {
    expect(() => parseTrustedDocuments(manifest([]))).toThrow(/no operations/);
  });

  it('refuses a body that is not a GraphQL document, naming the operation', () => {
    expect(() => parseTrustedDocuments(manifest([{ id: 'broken@1', name: 'Broken', type: 'query', body: 'query Broken { me { ' }]))).toThrow(
      /Broken \(broken@1\) is not a GraphQL document/,
    );
  });

  it('refuses one id with two bodies, and accepts it twice with the same body', () => {
    const twice = (second: string) =>
      manifest([
        { id: 'a', name: 'A', type: 'query', body: ME },
        { id: 'a', name: 'A', type: 'query', body: second },
      ]);
    expect(() => parseTrustedDocuments(twice('query Other { me { id } }'))).toThrow(/the id a twice/);
    expect(parseTrustedDocuments(twice(ME)).size).toBe(1);
  });

  it('counts ids that differ only by prefix or case as one id', () => {
    const text = manifest([
      { id: HASH, name: 'Me', type: 'query', body: ME },
      { id: `sha256:${HASH.toUpperCase()}`, name: 'Me', type: 'query', body: 'query Other { me { id } }' },
    ]);
    expect(() => parseTrustedDocuments(text)).toThrow(/twice/);
  });
});

describe('readTrustedDocuments', () => {
  it('names the path and the reason when the file cannot be read', () => {
    expect(() => readTrustedDocuments('/nonexistent/manifest.json')).toThrow('cannot read /nonexistent/manifest.json (ENOENT)');
  });
});
