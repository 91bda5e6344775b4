import type { DocumentNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { boundedParserCaches } from './parser-caches.js';

// yoga keys its parse caches by document text. Bounded by count alone, a caller sending large,
// distinct documents (each one a miss) could pin hundreds of MiB. Each cache here holds at most
// 4 Mi characters of document text, at most 1000 documents, and never one over 32 Ki characters.

const KiB = 1024;
const MiB = 1024 * KiB;
const DOCUMENT = { kind: 'Document', definitions: [] } as unknown as DocumentNode;

/** A distinct document text of exactly `length` characters. */
function text(index: number, length: number): string {
  return `# ${index} `.padEnd(length, 'x');
}

describe('boundedParserCaches', () => {
  it('keep at most 4 Mi characters of documents and never one over 32 Ki characters (moved from test/hardening.document-limits)', () => {
    const { documentCache, errorCache } = boundedParserCaches();
    for (let i = 0; i < 1000; i++) documentCache.set(`${i}`.padEnd(30_000, ' '), DOCUMENT);
    expect(documentCache.calculatedSize).toBeLessThanOrEqual(4 * MiB);
    expect(documentCache.size).toBeLessThan(200);
    errorCache.set('x'.repeat(40_000), new Error('too big to keep'));
    expect(errorCache.size).toBe(0);
    documentCache.set('{ me { id } }', DOCUMENT);
    expect(documentCache.get('{ me { id } }')).toBe(DOCUMENT);
  });

  it('caches ordinary documents', () => {
    const { documentCache, errorCache } = boundedParserCaches();
    const error = new Error('Syntax Error');
    documentCache.set('{ me { id } }', DOCUMENT);
    errorCache.set('{ me {', error);
    expect(documentCache.get('{ me { id } }')).toBe(DOCUMENT);
    expect(errorCache.get('{ me {')).toBe(error);
  });

  it('keeps a document of exactly 32 Ki characters and none longer', () => {
    const { documentCache } = boundedParserCaches();
    documentCache.set(text(1, 32 * KiB), DOCUMENT);
    documentCache.set(text(2, 32 * KiB + 1), DOCUMENT);
    expect(documentCache.has(text(1, 32 * KiB))).toBe(true);
    expect(documentCache.has(text(2, 32 * KiB + 1))).toBe(false);
    expect(documentCache.size).toBe(1);
  });

  it('never keeps an oversized document, even when the cache is empty', () => {
    const { documentCache, errorCache } = boundedParserCaches();
    for (const length of [32 * KiB + 1, 100 * KiB, 4 * MiB, 5 * MiB]) {
      documentCache.set(text(length, length), DOCUMENT);
      errorCache.set(text(length, length), new Error('x'));
    }
    expect(documentCache.size).toBe(0);
    expect(errorCache.size).toBe(0);
    expect(documentCache.calculatedSize).toBe(0);
  });

  it('does not evict what it holds to make room for an oversized document', () => {
    const { documentCache } = boundedParserCaches();
    documentCache.set('{ me { id } }', DOCUMENT);
    documentCache.set(text(0, 64 * KiB), DOCUMENT);
    expect(documentCache.get('{ me { id } }')).toBe(DOCUMENT);
  });

  it('measures documents by their length in characters', () => {
    const { documentCache } = boundedParserCaches();
    documentCache.set(text(1, 1000), DOCUMENT);
    documentCache.set(text(2, 2500), DOCUMENT);
    expect(documentCache.calculatedSize).toBe(3500);
    // The empty document still counts (size at least 1), so the count of entries stays bounded by size too.
    documentCache.set('', DOCUMENT);
    expect(documentCache.calculatedSize).toBe(3501);
  });

  it('holds at most 4 Mi characters of large distinct documents, evicting the oldest first', () => {
    const { documentCache } = boundedParserCaches();
    const length = 32 * KiB;
    const count = 300; // 9.4 Mi characters offered
    for (let i = 0; i < count; i++) documentCache.set(text(i, length), DOCUMENT);
    expect(documentCache.calculatedSize).toBeLessThanOrEqual(4 * MiB);
    expect(documentCache.size).toBe((4 * MiB) / length);
    expect(documentCache.has(text(count - 1, length))).toBe(true);
    expect(documentCache.has(text(0, length))).toBe(false);
  });

  it('holds at most 1000 documents, however small', () => {
    const { documentCache } = boundedParserCaches();
    for (let i = 0; i < 5000; i++) documentCache.set(`{ a${i} }`, DOCUMENT);
    expect(documentCache.size).toBe(1000);
    expect(documentCache.has('{ a4999 }')).toBe(true);
    expect(documentCache.has('{ a0 }')).toBe(false);
  });

  it('bounds the error cache the same way (failed parses are cached too)', () => {
    const { errorCache } = boundedParserCaches();
    const error = new Error('Syntax Error');
    for (let i = 0; i < 300; i++) errorCache.set(text(i, 32 * KiB), error);
    expect(errorCache.calculatedSize).toBeLessThanOrEqual(4 * MiB);
    for (let i = 0; i < 5000; i++) errorCache.set(`{ b${i}`, error);
    expect(errorCache.size).toBeLessThanOrEqual(1000);
  });

  it('gives each cache its own budget', () => {
    const { documentCache, errorCache } = boundedParserCaches();
    for (let i = 0; i < 128; i++) documentCache.set(text(i, 32 * KiB), DOCUMENT);
    errorCache.set('{ broken', new Error('x'));
    expect(documentCache.size).toBe(128);
    expect(errorCache.get('{ broken')).toBeDefined();
  });

  it('makes fresh caches on every call (no state shared between gateways)', () => {
    const one = boundedParserCaches();
    const two = boundedParserCaches();
    one.documentCache.set('{ me { id } }', DOCUMENT);
    expect(two.documentCache.has('{ me { id } }')).toBe(false);
    expect(one.documentCache).not.toBe(two.documentCache);
    expect(one.documentCache).not.toBe(one.errorCache);
  });

  it('keeps validation results (hung weakly off the cached documents)', () => {
    expect(boundedParserCaches().validationCache).toBe(true);
  });
});
