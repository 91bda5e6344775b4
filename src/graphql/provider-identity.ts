import type { ObjectRef } from '@pothos/core';
import type { UserRecord } from '../auth0/user-record.js';
import { builder, type GatewaySchemaTypes } from './builder.js';
import { Identity, registerIdentityType, type IdentityParent } from './identity.js';
import { User } from './user.js';

/** How a provider folder declares its identity type. */
export interface ProviderIdentityDefinition {
  /** GraphQL type name, e.g. `GoogleIdentity`. */
  typeName: string;
  /** Auth0 strategies (identity `provider` values) this type serves. */
  strategies: readonly string[];
  description: string;
  /** A field on User returning the first such identity (null when none is linked), e.g. `google`. */
  userField?: { name: string; description: string };
}

/**
 * Declares a provider's identity type: it implements Identity, serves the given strategies, and
 * optionally adds a shortcut field on User. Provider folders then add their own fields to it.
 */
export function defineProviderIdentity(definition: ProviderIdentityDefinition): ObjectRef<GatewaySchemaTypes, IdentityParent> {
  const type = builder.objectRef<IdentityParent>(definition.typeName).implement({
    description: definition.description,
    interfaces: [Identity],
  });
  registerIdentityType(definition.strategies, type);
  const userField = definition.userField;
  if (userField) {
    builder.objectField(User, userField.name, (t) =>
      t.field({ type, nullable: true, description: userField.description, resolve: (user) => identityOf(user, definition.strategies) }),
    );
  }
  return type;
}

/** The first identity of `user` with one of `strategies`, as a parent for its type. */
function identityOf(user: UserRecord, strategies: readonly string[]): IdentityParent | null {
  const identity = user.identities.find((candidate) => strategies.includes(candidate.provider));
  return identity ? { user, identity } : null;
}
