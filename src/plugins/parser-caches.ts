import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/** Documents longer than this are parsed every time instead of cached. */
const MAX_CACHED_DOCUMENT_CHARS = 32 * 1024;
/** All cached document text together, per cache. */
const MAX_CACHED_CHARS = 4 * 1024 * 1024;
const MAX_CACHED_DOCUMENTS = 1000;

/**
 * yoga's parse and validation caches, bounded by size rather than by count alone. yoga keys them by
 * the document text, so with its default count-bounded LRU a caller sending large, distinct
 * documents (every one a miss) could pin hundreds of MiB of text and syntax trees. Here each cache
 * holds at most 4 Mi characters of document text, and a document over 32 Ki characters (far
 * beyond any real operation; MAX_TOKENS refuses most of them anyway) is never kept. Failed parses
 * are cached under the same bounds. Validation results hang off the cached syntax trees (weakly),
 * so they are bounded with them.
 */
export function boundedParserCaches() {
  const options = {
    max: MAX_CACHED_DOCUMENTS,
    maxSize: MAX_CACHED_CHARS,
    maxEntrySize: MAX_CACHED_DOCUMENT_CHARS,
    sizeCalculation: (_value: unknown, key: string) => Math.max(1, key.length),
  };
  return {
    documentCache: new LRUCache<string, DocumentNode>(options),
    errorCache: new LRUCache<string, Error>(options),
    validationCache: true,
  };
}
