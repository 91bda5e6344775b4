import type { ObjectRef } from '@pothos/core';
import type { z } from 'zod';
import type { ConfigFragment } from '../env.js';
import type { GatewaySchemaTypes } from '../graphql/builder.js';
import type { IdentityParent } from '../graphql/identity.js';
import type { TokenPolicy } from '../tokens/policy.js';
import type { ProviderApiDefinition } from './api.js';

/**
 * Everything the gateway knows about one provider, in one object: its folder exports it and
 * providers/index.ts lists it. The parts are separate modules of the folder, each in its layer:
 * the configuration fragment (environment variables), the API client's definition and the token
 * policy (domain: no GraphQL), and the GraphQL identity type with its fields.
 */
export interface ProviderDefinition {
  /** The provider's name; also its key under `config.providers`. */
  name: string;
  /** Its environment variables, read into `config.providers.<name>` (also listed in providers/config.ts). */
  config: ConfigFragment<z.ZodRawShape, unknown>;
  /** How its tokens are renewed and its users sent back to sign in. */
  tokenPolicy: TokenPolicy;
  /** Its API: how error answers read, request signing, the largest answer. Absent: no API fields yet. */
  api?: ProviderApiDefinition;
  /** Its GraphQL identity type, which its fields extend. Absent: its identities are GenericIdentity. */
  identity?: ObjectRef<GatewaySchemaTypes, IdentityParent>;
}
