import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';

/**
 * The examples' trusted documents in Apollo's persisted-query manifest format, derived from the
 * `persisted-documents.json` the codegen client preset writes (`{"sha256:<hex>": "<body>"}`). Apollo's
 * tooling, and any server that reads its format, then knows every operation by id, name and type.
 * `npm run codegen` runs `writePersistedQueryManifest` after writing its files.
 */

/** Where the client preset lists the examples' operation bodies by hash. */
export const PERSISTED_DOCUMENTS_PATH = 'examples/gql/persisted-documents.json';
/** Where the manifest is written. */
export const MANIFEST_PATH = 'examples/persisted-query-manifest.json';

/** One operation of the manifest; `id` is the lowercase hex SHA-256 of `body`. */
export interface ManifestOperation {
  id: string;
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  body: string;
}

/** Apollo's persisted-query manifest, version 1. */
export interface PersistedQueryManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: ManifestOperation[];
}

/** The lowercase hex SHA-256 of a document body: its id. */
export function documentId(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Converts the preset's `{"sha256:<hex>": body}` map into a manifest, operations sorted by name.
 * Throws when a key is not the body's hash or a body is not exactly one named operation (its
 * fragments aside): the manifest must describe what clients send, or trusted-documents mode breaks.
 */
export function toPersistedQueryManifest(persistedDocuments: Record<string, string>): PersistedQueryManifest {
  const operations = Object.entries(persistedDocuments).map(([key, body]): ManifestOperation => {
    const id = documentId(body);
    if (key !== `sha256:${id}`) throw new Error(`persisted document ${key} is not the SHA-256 of its body (sha256:${id})`);
    const definitions = parse(body).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
    const [operation] = definitions;
    if (definitions.length !== 1 || !operation?.name) throw new Error(`persisted document ${key} must hold exactly one named operation`);
    return { id, name: operation.name.value, type: operation.operation, body };
  });
  operations.sort((a, b) => a.name.localeCompare(b.name));
  return { format: 'apollo-persisted-query-manifest', version: 1, operations };
}

/** The manifest file's exact text: two-space JSON and a final newline. */
export function manifestText(manifest: PersistedQueryManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Codegen `afterAllFileWrite` hook: rewrites the manifest whenever the preset wrote the persisted documents. */
export function writePersistedQueryManifest(...writtenFiles: string[]): void {
  const source = resolve(PERSISTED_DOCUMENTS_PATH);
  if (!writtenFiles.some((file) => resolve(file) === source)) return;
  const persistedDocuments = JSON.parse(readFileSync(source, 'utf8')) as Record<string, string>;
  writeFileSync(resolve(MANIFEST_PATH), manifestText(toPersistedQueryManifest(persistedDocuments)));
}
