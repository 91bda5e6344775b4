import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin, { AuthScopeFailureType, type AuthFailure } from '@pothos/plugin-scope-auth';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { ForbiddenError } from '../errors.js';
import type { GatewayContext } from './context.js';

/** The builder's type parameters: context, scalars and auth scopes. */
export interface GatewayTypes {
  Context: GatewayContext;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
  AuthScopes: { scope: string; person: boolean };
  DefaultFieldNullability: false;
  // Relay connections: `edges: [XEdge!]!` and `node: X!`, as the published schema promises.
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}

/** The full Pothos schema types of the builder, for typing refs outside it. */
export type GatewaySchemaTypes = PothosSchemaTypes.ExtendDefaultTypes<GatewayTypes>;

/**
 * The one Pothos builder. Scopes (granted: the token's `scope` claim plus its `permissions`
 * array): `scope` checks a granted scope by name and `person` refuses machine-to-machine callers.
 * A failed check becomes FORBIDDEN on that field only, naming the scope the caller lacks.
 */
export const builder = new SchemaBuilder<GatewayTypes>({
  // Non-null unless a field says otherwise, so the SDL states exactly what the published schema promises.
  defaultFieldNullability: false,
  // Order: scope-auth checks a field before the dataloader plugin loads what it resolves to.
  plugins: [ScopeAuthPlugin, DataloaderPlugin, RelayPlugin],
  // Connection and edge types and a spec-complete PageInfo come from the relay plugin; the paging
  // behind them is ours (graphql/pagination.ts), over each provider's own paging. No Node
  // interface, no node/nodes queries and no mutations: nothing here has a global id.
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    pageInfoTypeOptions: { description: 'Where a page of a connection ends and whether more follow.' },
    hasNextPageFieldOptions: { description: 'Whether another page follows; pass endCursor as `after` to get it.' },
    hasPreviousPageFieldOptions: { description: 'Whether items come before this page (true when `after` was given).' },
    startCursorFieldOptions: { description: 'Opaque cursor of the first edge; null when the page is empty.' },
    endCursorFieldOptions: { description: 'Opaque cursor after the last edge; null when the page is empty.' },
    edgesFieldOptions: { description: 'The items of this page, in provider order.' },
    pageInfoFieldOptions: { description: 'Whether more items follow, and the cursor to get them.' },
    cursorFieldOptions: { description: 'Opaque cursor; pass it as `after` to continue after this edge.' },
  },
  scopeAuth: {
    authScopes: (context) => ({
      scope: (scope: string) => context.caller.scopes.has(scope),
      person: !context.caller.isMachine,
    }),
    unauthorizedError: (_parent, _context, info, result) => {
      const failure = firstScopeFailure(result.failure);
      if (failure?.scope === 'scope') {
        const scope = String(failure.parameter);
        return new ForbiddenError(`${info.fieldName} needs the scope ${scope}`, scope);
      }
      if (failure?.scope === 'person') {
        return new ForbiddenError(`${info.fieldName} is only for users; machine-to-machine callers have no user of their own`);
      }
      return new ForbiddenError(`${info.fieldName} is not allowed for this caller`);
    },
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);

builder.queryType({ description: 'Users of the Auth0 tenant and the data of the providers they signed in with.' });

/** The first single-scope failure inside a (possibly nested) scope-auth failure. */
function firstScopeFailure(failure: AuthFailure): { scope: string; parameter: unknown } | undefined {
  if (failure.kind === AuthScopeFailureType.AuthScope) return failure;
  if ('failures' in failure) {
    for (const inner of failure.failures) {
      const found = firstScopeFailure(inner);
      if (found) return found;
    }
  }
  return undefined;
}
