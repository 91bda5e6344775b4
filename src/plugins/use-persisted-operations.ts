import { usePersistedOperations as useYogaPersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { createGraphQLError, type OnParamsEventPayload, type Plugin } from 'graphql-yoga';
import type { TrustedDocuments } from '../limits/trusted-documents.js';
import type { Logger } from '../logger.js';
import type { SharedStore } from '../store/store.js';
import { getRequestParams, requestedOperationId, sha256Hex } from './persisted-operation-id.js';
import { PersistedQueryRegistry, type Registration } from './persisted-query-registry.js';

/** Options of usePersistedOperations. */
export interface PersistedOperationsOptions {
  /** The shared store APQ documents live in. */
  store: SharedStore;
  /** TRUSTED_DOCUMENTS: only these operations run, by id; undefined: any document, with APQ. */
  trustedDocuments: TrustedDocuments | undefined;
  /** Largest document APQ registers (PERSISTED_QUERY_MAX_BYTES). */
  maxBytes: number;
  /** How long a registered document is kept (PERSISTED_QUERY_TTL_SECONDS). */
  ttlSeconds: number;
  logger: Logger;
  /** Whether GraphiQL is served; in trusted mode its documents are refused, which is logged once at start. */
  graphiql?: boolean;
}

// The error codes of persisted operations (docs/persisted-operations.md lists when each applies).

/**
 * The hash is unknown: Apollo clients match the message or the code and send the document with
 * it. HTTP 200, as Apollo Server answers (some older Apollo clients turned APQ off for good on a
 * 400 or 500), and never cached, so a cache in front cannot keep answering "not found" after the
 * document is registered.
 */
const notFound = () =>
  createGraphQLError('PersistedQueryNotFound', {
    extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 200, headers: { 'Cache-Control': 'no-store' } } },
  });

const hashMismatch = () =>
  createGraphQLError('The provided sha256Hash is not the SHA-256 of the query (hex of its UTF-8 text); nothing was registered or run.', {
    extensions: { code: 'PERSISTED_QUERY_HASH_MISMATCH', http: { status: 400 } },
  });

/** yoga's own answer to a request without a document, kept for APQ mode. */
const noDocument = () =>
  createGraphQLError('Must provide query string.', { extensions: { code: 'BAD_REQUEST', http: { status: 400, headers: { Allow: 'GET, POST' } } } });

const idRequired = () =>
  createGraphQLError(
    'This gateway runs only the operations of its trusted documents (TRUSTED_DOCUMENTS): send the operation id as extensions.persistedQuery.sha256Hash or documentId, without the document text.',
    { extensions: { code: 'PERSISTED_QUERY_ID_REQUIRED', http: { status: 400 } } },
  );

const notInList = () =>
  createGraphQLError('No trusted document has this id (TRUSTED_DOCUMENTS); the client and the manifest are out of step.', {
    extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST', http: { status: 404 } },
  });

/**
 * Persisted operations, on `@graphql-yoga/plugin-persisted-operations` (which looks the id up and
 * swaps the document in), in one of two modes:
 *
 * - Automatic persisted queries (the default; Apollo's protocol): a request may carry
 *   `extensions.persistedQuery: { version: 1, sha256Hash }` (or `documentId`). The hash alone runs
 *   the document registered under it, over POST or GET; an unknown hash is
 *   PERSISTED_QUERY_NOT_FOUND, and the client sends the document with its hash, which registers
 *   it (PersistedQueryRegistry: shared store, size, TTL and budget bounds) once it has passed
 *   validation. A hash that is not the document's SHA-256 is PERSISTED_QUERY_HASH_MISMATCH, and
 *   nothing runs. Any other document runs as usual.
 * - Trusted documents (TRUSTED_DOCUMENTS): only the manifest's operations run, by id; a document
 *   text is PERSISTED_QUERY_ID_REQUIRED, an unknown id PERSISTED_QUERY_NOT_IN_LIST, and nothing
 *   is registered.
 *
 * Either way the id is read from `extensions.persistedQuery.sha256Hash` or the GraphQL-over-HTTP
 * `documentId` (body or query string; a `sha256:` prefix is accepted), and the document it names
 * then goes through everything any document does: caller authentication (already done, before the
 * body was read), the parser's and validation's document limits, and the upstream budget.
 */
export function usePersistedOperations(options: PersistedOperationsOptions): Plugin {
  return options.trustedDocuments ? useTrustedDocuments(options.trustedDocuments, options) : useAutomaticPersistedQueries(options);
}

/**
 * The hooks both modes share: GET parameters read with `documentId` (getRequestParams), and the
 * requested id (requestedOperationId) noted for the library's lookup, with `documentId` taken out
 * of the parameters yoga checks afterwards (it refuses parameters it does not know).
 */
function readRequestedId(idByRequest: WeakMap<Request, string>): Pick<Plugin, 'onRequestParse'> & { onParams(payload: OnParamsEventPayload): void } {
  return {
    onRequestParse({ request, url, setRequestParser }) {
      if (request.method === 'GET') setRequestParser(() => getRequestParams(url.searchParams));
    },
    onParams({ params, request, setParams }) {
      const { documentId, ...rest } = params as typeof params & { documentId?: unknown };
      const id = requestedOperationId(params.extensions, documentId);
      if (id !== undefined) idByRequest.set(request, id);
      if (documentId !== undefined) setParams(rest);
    },
  };
}

function useTrustedDocuments(documents: TrustedDocuments, { logger, graphiql }: PersistedOperationsOptions): Plugin {
  const idByRequest = new WeakMap<Request, string>();
  if (graphiql) {
    logger.warn(
      { event: 'graphiql_with_trusted_documents' },
      'GRAPHIQL is on, but TRUSTED_DOCUMENTS refuses every document GraphiQL sends (its introspection included)',
    );
  }
  return {
    ...readRequestedId(idByRequest),
    onPluginInit({ addPlugin }) {
      addPlugin(
        useYogaPersistedOperations({
          allowArbitraryOperations: false,
          extractPersistedOperationId: (_params, request) => idByRequest.get(request) ?? null,
          getPersistedOperation: (id) => documents.get(id)?.body ?? null,
          customErrors: { notFound: notInList, keyNotFound: idRequired, persistedQueryOnly: idRequired },
        }),
      );
    },
  };
}

function useAutomaticPersistedQueries({ store, maxBytes, ttlSeconds, logger }: PersistedOperationsOptions): Plugin {
  const registry = new PersistedQueryRegistry({ store, maxBytes, ttlSeconds, logger });
  const idByRequest = new WeakMap<Request, string>();
  /** Documents sent with their hash, by request context, until they pass validation. */
  const pending = new WeakMap<object, { hash: string; query: string }>();
  /** Registrations under way, by request context; the response waits for them. */
  const registrations = new WeakMap<object, Promise<Registration>>();
  const { onRequestParse, onParams: readId } = readRequestedId(idByRequest);

  return {
    onRequestParse,
    onPluginInit({ addPlugin }) {
      addPlugin(
        useYogaPersistedOperations({
          allowArbitraryOperations: true,
          extractPersistedOperationId: (_params, request) => idByRequest.get(request) ?? null,
          getPersistedOperation: (hash) => registry.find(hash),
          customErrors: { notFound, keyNotFound: noDocument },
        }),
      );
    },
    onParams(payload) {
      readId(payload);
      const hash = idByRequest.get(payload.request);
      const query = payload.params.query;
      if (hash === undefined || typeof query !== 'string' || query === '') return;
      if (sha256Hex(query) !== hash) throw hashMismatch();
      pending.set(payload.context, { hash, query });
    },
    onValidate({ context }) {
      const registration = pending.get(context);
      if (!registration) return;
      return ({ valid }) => {
        // Only documents that would run are kept: not one that fails validation or a document limit.
        if (valid) registrations.set(context, registry.register(registration.hash, registration.query));
      };
    },
    async onExecutionResult({ context }) {
      // The answer leaves once the document is registered, so the client's next request finds it.
      const registration = registrations.get(context);
      if (!registration) return;
      const outcome = await registration;
      if (outcome !== 'registered') logger.debug({ event: 'persisted_query_not_registered', outcome }, `persisted query not registered: ${outcome}`);
    },
  };
}
