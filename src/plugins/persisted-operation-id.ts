import { createHash } from 'node:crypto';
import { createGraphQLError, type GraphQLParams } from 'graphql-yoga';
import { normalizeDocumentId } from '../limits/trusted-documents.js';

/** Ids longer than this are no id any manifest or hash produces; they are refused, never looked up or logged. */
const MAX_ID_LENGTH = 256;

/** 400 BAD_REQUEST: the request names a persisted operation in a form the gateway does not accept. */
const malformed = (message: string) => createGraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });

/** The SHA-256 of a document's text as Apollo clients compute it: UTF-8, lower-case hex. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * The persisted operation a request names, normalized (normalizeDocumentId), or undefined when it
 * names none. Two forms are read: Apollo's `extensions.persistedQuery` (`{ version: 1, sha256Hash }`)
 * and the GraphQL-over-HTTP `documentId` (`sha256:<hex>` or a bare id). Throws 400 BAD_REQUEST for
 * an unsupported `version`, an id that is not a non-empty string of at most 256 characters, or the
 * two forms naming different documents.
 */
export function requestedOperationId(extensions: unknown, documentId: unknown): string | undefined {
  const persistedQuery = extensions !== null && typeof extensions === 'object' ? (extensions as Record<string, unknown>).persistedQuery : undefined;
  let fromExtension: string | undefined;
  if (persistedQuery !== undefined && persistedQuery !== null) {
    if (typeof persistedQuery !== 'object') throw malformed('extensions.persistedQuery must be an object { version: 1, sha256Hash }.');
    const { version, sha256Hash } = persistedQuery as Record<string, unknown>;
    if (version !== 1) throw malformed('Unsupported persisted query version: only extensions.persistedQuery.version 1 is supported.');
    fromExtension = validId(sha256Hash, 'extensions.persistedQuery.sha256Hash');
  }
  const fromDocumentId = documentId === undefined || documentId === null ? undefined : validId(documentId, 'documentId');
  if (fromExtension !== undefined && fromDocumentId !== undefined && fromExtension !== fromDocumentId) {
    throw malformed('documentId and extensions.persistedQuery.sha256Hash name different documents; send one of them.');
  }
  return fromExtension ?? fromDocumentId;
}

/**
 * Reads a GET request's parameters as yoga does (`query`, `operationName`, and `variables` and
 * `extensions` as JSON), plus the GraphQL-over-HTTP `documentId`. `variables` or `extensions` that
 * are not JSON are 400 BAD_REQUEST, where yoga's own reader lets the SyntaxError escape as a 500.
 */
export function getRequestParams(search: URLSearchParams): GraphQLParams & { documentId?: string } {
  // What the JSON holds (an object or not) is checked by yoga next, as for POST bodies.
  const json = (name: 'variables' | 'extensions'): Record<string, unknown> | undefined => {
    const text = search.get(name);
    if (!text) return undefined;
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw malformed(`The ${name} parameter is not JSON.`);
    }
  };
  return {
    query: search.get('query') || undefined,
    operationName: search.get('operationName') || undefined,
    variables: json('variables'),
    extensions: json('extensions'),
    documentId: search.get('documentId') || undefined,
  };
}

function validId(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_ID_LENGTH + 'sha256:'.length) {
    throw malformed(`${name} must be a non-empty string of at most ${MAX_ID_LENGTH} characters.`);
  }
  return normalizeDocumentId(value.trim());
}
