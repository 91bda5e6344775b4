import { ConfigurationError } from '../errors.js';
import { SingleFlight } from '../store/lock.js';
import type { ManagementClient } from './management-client.js';
import type { Auth0Connection } from './types.js';

const OPTIONS_TTL_MS = 5 * 60_000;

/**
 * Auth0 connections by name. Their options hold provider app credentials (and, for enterprise
 * connections, admin tokens), so they are cached in process memory only, briefly, and never in
 * the shared store.
 */
export class ConnectionDirectory {
  private readonly cache = new Map<string, { connection: Auth0Connection | null; until: number }>();
  private readonly flight = new SingleFlight<Auth0Connection | null>();

  constructor(private readonly client: ManagementClient) {}

  /** The connection (cached for a few minutes); null when the tenant has none by that name. */
  async get(name: string): Promise<Auth0Connection | null> {
    const cached = this.cache.get(name);
    return cached && cached.until > Date.now() ? cached.connection : this.fresh(name);
  }

  /** The connection's options (cached); CONFIGURATION_ERROR when the tenant has no such connection. */
  async options(name: string): Promise<Record<string, unknown>> {
    const connection = await this.get(name);
    if (!connection) throw new ConfigurationError('auth0', `the Auth0 tenant has no connection named ${name}`);
    return connection.options ?? {};
  }

  /** The connection as Auth0 holds it now (refreshing the cache); null when there is none. */
  async fresh(name: string): Promise<Auth0Connection | null> {
    return this.flight.run(name, async () => {
      const connection = await this.client.getConnectionByName(name);
      this.cache.set(name, { connection, until: Date.now() + OPTIONS_TTL_MS });
      return connection;
    });
  }
}
