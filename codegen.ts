import type { CodegenConfig } from '@graphql-codegen/cli';
import { writePersistedQueryManifest } from './scripts/persisted-query-manifest.js';

/** What both outputs share: scalars as they arrive in JSON, type-only imports, no fragment masking. */
const typedDocuments = {
  preset: 'client',
  config: { scalars: { DateTime: 'string', JSON: 'unknown' }, useTypeImports: true, enumsAsTypes: true },
} as const;

/**
 * Typed documents: operations written with `graphql(...)` are checked against the committed SDL and
 * typed end to end. Each output reads only its own folder's operations.
 *
 * - `test/gql/`: the tests' documents (DocumentNode objects).
 * - `examples/gql/`: the examples' documents, as strings (`documentMode: 'string'`), so a browser or
 *   mobile client sends them without graphql-js. With `persistedDocuments`, the preset also prints each
 *   operation in a normalized form, lists those bodies by `sha256:<hex>` of the body in
 *   `persisted-documents.json`, and puts that id in the document's `__meta__.hash`. The hook below
 *   turns the list into an Apollo persisted-query manifest, `examples/persisted-query-manifest.json`:
 *   the ids and bodies persisted-query clients send, and what a gateway in trusted-documents mode runs.
 */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  generates: {
    'test/gql/': {
      ...typedDocuments,
      documents: ['test/**/*.ts', '!test/gql/**'],
      presetConfig: { fragmentMasking: false },
    },
    'examples/gql/': {
      ...typedDocuments,
      documents: ['examples/**/*.ts', '!examples/gql/**'],
      config: { ...typedDocuments.config, documentMode: 'string' },
      presetConfig: { fragmentMasking: false, persistedDocuments: true },
    },
  },
  hooks: { afterAllFileWrite: [writePersistedQueryManifest] },
  ignoreNoDocuments: true,
  // NodeNext: generated relative imports must end in .js.
  emitLegacyCommonJSImports: false,
};

export default config;
