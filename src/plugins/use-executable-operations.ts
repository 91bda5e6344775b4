import { GraphQLError, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Rejects operations the schema has no root type for (a `mutation` or `subscription` while the
 * gateway only reads) during validation, so they are a 4xx GRAPHQL_VALIDATION_FAILED like any
 * other invalid document. graphql-js 16 has no such rule and would answer 200 with a bare error.
 */
export function useExecutableOperations(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(knownRootOperationTypes);
    },
  };
}

const knownRootOperationTypes: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (context.getSchema().getRootType(node.operation)) return;
    context.reportError(new GraphQLError(`This gateway does not support ${node.operation} operations; only queries.`, { nodes: [node] }));
  },
});
