/**
 * Shapes of what the Auth0 Management API returns for users and connections
 * (docs/upstream-apis.md#auth0-users and #auth0-connections), as far as the gateway reads them.
 * Everything else a tenant sends is ignored.
 */

/** An identity as Auth0 sends it; `user_id` is a number for some providers (GitHub). */
export interface Auth0Identity {
  provider: string;
  user_id: string | number;
  connection: string;
  isSocial?: boolean;
  access_token?: string;
  access_token_secret?: string;
  refresh_token?: string;
  expires_in?: number;
  profileData?: Record<string, unknown>;
}

/** A user as Auth0 sends it. */
export interface Auth0User {
  user_id: string;
  email?: string;
  name?: string;
  picture?: string;
  updated_at?: string;
  last_login?: string;
  identities?: Auth0Identity[];
}

/** A connection as Auth0 sends it. */
export interface Auth0Connection {
  id: string;
  name: string;
  strategy: string;
  options?: Record<string, unknown>;
}
