import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './user.js';
import './identity.js';
import './connection.js';
import '../providers/index.js';

/** The gateway's executable schema, assembled from the type modules imported above. */
export const schema: GraphQLSchema = builder.toSchema();

/** The SDL as committed in schema/schema.graphql (sorted, so diffs show real changes only). */
export function printGatewaySchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
