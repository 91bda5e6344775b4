import {
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  getDirectiveValues,
  getNamedType,
  isInterfaceType,
  isObjectType,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * What resolving a field can cost upstream, declared on the field itself
 * (`extensions: upstreamCalls()` or `extensions: readsUsers(...)`), so that the estimate and the
 * schema cannot drift apart: a new provider field states its cost where it is defined.
 */
export type UpstreamCost =
  /** Each resolution may make this many provider calls (a profile read, one page of a list, a passthrough GET). */
  | { calls: number }
  /**
   * The field reads users, and everything below it runs once per user: `caller` is one user (the
   * caller), `{ arg }` names the argument holding one id or a list of ids.
   */
  | { users: 'caller' | { arg: string } };

/** Field extensions of a field that makes `calls` provider calls each time it resolves. */
export function upstreamCalls(calls = 1): { upstream: UpstreamCost } {
  return { upstream: { calls } };
}

/** Field extensions of a root field that reads users (see UpstreamCost). */
export function readsUsers(users: 'caller' | { arg: string }): { upstream: UpstreamCost } {
  return { upstream: { users } };
}

/** Ids the gateway puts into one Management API search, so one read per started batch of this many. */
export const USERS_PER_READ = 50;

/** An operation's upstream estimate. */
export interface UpstreamEstimate {
  /** Provider calls (per identity they can run on) plus the Management reads that find the users. */
  cost: number;
  /** User ids named by `user`/`users` fields, aliases and repeats included. */
  userIds: number;
}

/**
 * Estimates before execution how many upstream calls an operation can cause: every field that
 * declares calls counts once per parent it can resolve on, where `users(ids:)` multiplies what is
 * below it by the number of ids and a user is assumed to have one identity of each type it is asked
 * about (the run-time budget catches users with several). Users themselves cost one Management
 * read per started batch of USERS_PER_READ ids. Fields under @skip(if: true) / @include(if: false)
 * cost nothing. The document must have passed validation.
 */
export function estimateUpstreamCalls(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): UpstreamEstimate {
  const operation = document.definitions.find(
    (definition): definition is OperationDefinitionNode =>
      definition.kind === Kind.OPERATION_DEFINITION && (!operationName || definition.name?.value === operationName),
  );
  const rootType = operation && schema.getRootType(operation.operation);
  if (!operation || !rootType) return { cost: 0, userIds: 0 };
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const walker = new CostWalker(schema, fragments, variables ?? {});
  walker.walk(operation.selectionSet, rootType, 1);
  return { cost: walker.calls + Math.ceil(walker.usersRead / USERS_PER_READ), userIds: walker.userIds };
}

class CostWalker {
  calls = 0;
  /** Ids named in arguments (the per-request cap counts these). */
  userIds = 0;
  /** Users read, the caller included. */
  usersRead = 0;

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly fragments: Map<string, FragmentDefinitionNode>,
    private readonly variables: Record<string, unknown>,
  ) {}

  walk(selectionSet: SelectionSetNode, parentType: GraphQLNamedType, multiplier: number): void {
    for (const selection of selectionSet.selections) {
      if (!this.included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        this.field(selection, parentType, multiplier);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        this.walk(selection.selectionSet, this.typeOf(selection.typeCondition?.name.value) ?? parentType, multiplier);
      } else {
        const fragment = this.fragments.get(selection.name.value);
        const type = fragment && this.typeOf(fragment.typeCondition.name.value);
        if (fragment && type) this.walk(fragment.selectionSet, type, multiplier);
      }
    }
  }

  private field(node: FieldNode, parentType: GraphQLNamedType, multiplier: number): void {
    if (node.name.value.startsWith('__') || !(isObjectType(parentType) || isInterfaceType(parentType))) return;
    const definition = parentType.getFields()[node.name.value];
    if (!definition) return;
    const cost = definition.extensions.upstream as UpstreamCost | undefined;
    let inner = multiplier;
    if (cost && 'calls' in cost) this.calls += multiplier * cost.calls;
    if (cost && 'users' in cost) {
      const count = cost.users === 'caller' ? 1 : this.idCount(node, cost.users.arg);
      if (cost.users !== 'caller') this.userIds += multiplier * count;
      this.usersRead += multiplier * count;
      inner = multiplier * count;
    }
    if (node.selectionSet) this.walk(node.selectionSet, getNamedType(definition.type), inner);
  }

  /** How many ids an argument holds: a list's length, else one. */
  private idCount(node: FieldNode, name: string): number {
    const argument = node.arguments?.find((candidate) => candidate.name.value === name);
    if (!argument) return 0;
    const value: unknown = valueFromASTUntyped(argument.value, this.variables);
    return Array.isArray(value) ? value.length : value === undefined || value === null ? 0 : 1;
  }

  private included(node: SelectionNode): boolean {
    if (getDirectiveValues(GraphQLSkipDirective, node, this.variables)?.if === true) return false;
    return getDirectiveValues(GraphQLIncludeDirective, node, this.variables)?.if !== false;
  }

  private typeOf(name: string | undefined): GraphQLNamedType | undefined {
    return name ? (this.schema.getType(name) ?? undefined) : undefined;
  }
}
