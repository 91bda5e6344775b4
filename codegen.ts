import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * Typed documents for the tests (and, later, the partner client): operations written with
 * `graphql(...)` from `test/gql` are checked against the committed SDL and typed end to end.
 */
const config: CodegenConfig = {
  schema: 'schema/schema.graphql',
  documents: ['test/**/*.ts', '!test/gql/**'],
  generates: {
    'test/gql/': {
      preset: 'client',
      config: { scalars: { DateTime: 'string', JSON: 'unknown' }, useTypeImports: true, enumsAsTypes: true },
      presetConfig: { fragmentMasking: false },
    },
  },
  ignoreNoDocuments: true,
  // NodeNext: generated relative imports must end in .js.
  emitLegacyCommonJSImports: false,
};

export default config;
