import type DataLoader from 'dataloader';
import type { Caller } from '../auth0/caller-token.js';
import type { ConnectionDirectory } from '../auth0/connections.js';
import type { UserDirectory } from '../auth0/users.js';
import type { GatewayConfig } from '../config.js';
import type { UpstreamBudget } from '../limits/upstream-budget.js';
import type { Logger } from '../logger.js';
import type { ProviderApi, ProviderApiDefinition } from '../providers/api.js';
import type { TokenBroker } from '../tokens/broker.js';

/** Long-lived services shared by every request of one gateway instance. */
export interface Services {
  config: GatewayConfig;
  logger: Logger;
  users: UserDirectory;
  connections: ConnectionDirectory;
  tokens: TokenBroker;
  /** The API client of a provider definition (one per gateway, created on first use). */
  providerApi(definition: ProviderApiDefinition): ProviderApi;
}

/** What every resolver sees: the authenticated caller, the gateway's services and the request's upstream budget. */
export interface GatewayContext {
  caller: Caller;
  services: Services;
  /** Provider calls this request may still make (MAX_UPSTREAM_CALLS). */
  upstreamBudget: UpstreamBudget;
}

/**
 * Declares a DataLoader that lives for one request: the first resolver that asks for it creates it
 * on that request's context, later resolvers of the same request share it, and it is gone with the
 * request. Loaders must never outlive a request: their cache would serve one caller's data to
 * another and skip authorization.
 */
export function requestLoader<K, V>(create: (context: GatewayContext) => DataLoader<K, V>): (context: GatewayContext) => DataLoader<K, V> {
  const perRequest = new WeakMap<GatewayContext, DataLoader<K, V>>();
  return (context) => {
    let loader = perRequest.get(context);
    if (!loader) {
      loader = create(context);
      perRequest.set(context, loader);
    }
    return loader;
  };
}
