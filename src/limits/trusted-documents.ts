import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { z } from 'zod';

/** One operation of a trusted documents manifest. */
export interface TrustedDocument {
  id: string;
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  body: string;
}

/** The operations a gateway in trusted-documents mode runs, by normalized id (see normalizeDocumentId). */
export type TrustedDocuments = ReadonlyMap<string, TrustedDocument>;

/** Apollo's persisted-query manifest format, version 1. */
const manifestSchema = z.object({
  format: z.literal('apollo-persisted-query-manifest'),
  version: z.literal(1),
  operations: z.array(
    z.object({
      id: z.string().trim().min(1).max(256),
      name: z.string(),
      type: z.enum(['query', 'mutation', 'subscription']),
      body: z.string().min(1),
    }),
  ),
});

/** The hex form of a SHA-256 digest; such ids are compared without regard to case. */
const SHA256_HEX = /^[0-9a-f]{64}$/i;

/**
 * The form in which a persisted operation id is looked up: without the `sha256:` prefix of the
 * GraphQL-over-HTTP `documentId` (`sha256:<hex>`), and a SHA-256 hex digest in lower case, so that
 * `sha256:ABC…`, `abc…` and `ABC…` name the same document.
 */
export function normalizeDocumentId(id: string): string {
  const bare = id.startsWith('sha256:') ? id.slice('sha256:'.length) : id;
  return SHA256_HEX.test(bare) ? bare.toLowerCase() : bare;
}

/** Whether an id is a SHA-256 hex digest (after normalizeDocumentId). */
export function isSha256Hex(id: string): boolean {
  return SHA256_HEX.test(id);
}

/**
 * Validates the text of an Apollo persisted-query manifest
 * (`{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id","name","type","body"}]}`)
 * into the operations by id. Every body must be a GraphQL document that parses; two operations may
 * share an id only with the same body. Throws an Error whose message says what is wrong (JSON,
 * shape, a duplicate id, a body that does not parse), naming the operation; a manifest listing no
 * operation is refused too, since it would refuse every request.
 */
export function parseTrustedDocuments(text: string): TrustedDocuments {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`is not JSON (${(error as Error).message})`, { cause: error });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    const where = issue?.path.length ? issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('') : '';
    throw new Error(`is not an apollo-persisted-query-manifest of version 1: ${where ? `${where.replace(/^\./, '')}: ` : ''}${issue?.message ?? 'invalid'}`);
  }
  const { operations } = parsed.data;
  if (operations.length === 0) throw new Error('lists no operations (every request would be refused)');
  const documents = new Map<string, TrustedDocument>();
  for (const operation of operations) {
    const id = normalizeDocumentId(operation.id);
    const known = documents.get(id);
    if (known && known.body !== operation.body) throw new Error(`lists the id ${operation.id} twice with different bodies`);
    try {
      parse(operation.body, { noLocation: true });
    } catch (error) {
      throw new Error(`operation ${operation.name || operation.id} (${operation.id}) is not a GraphQL document: ${(error as Error).message}`, { cause: error });
    }
    documents.set(id, { ...operation, id });
  }
  return documents;
}

/**
 * Reads the manifest TRUSTED_DOCUMENTS names (relative paths from the working directory), once, at
 * configuration time; throws an Error naming the path when it cannot be read or is not a manifest.
 */
export function readTrustedDocuments(path: string): TrustedDocuments {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${path}${code ? ` (${code})` : ''}`, { cause: error });
  }
  try {
    return parseTrustedDocuments(text);
  } catch (error) {
    throw new Error(`${path} ${(error as Error).message}`, { cause: error });
  }
}
