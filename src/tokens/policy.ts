import type { GatewayConfig } from '../config.js';

/** Where and how a refresh-token grant is sent (RFC 6749 §6). */
export interface RefreshEndpoint {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** `post`: credentials in the form body (Google, Microsoft); `basic`: HTTP Basic (Bitbucket). */
  clientAuth: 'post' | 'basic';
}

/** What provider code may consult besides the request: the configuration and the Auth0 connections' options. */
export interface PolicyDeps {
  config: GatewayConfig;
  /** An Auth0 connection's `options` by connection name (read once and cached; needs read:connections). */
  connectionOptions: (connection: string) => Promise<Record<string, unknown>>;
}

/** What a policy may consult to find its endpoint. */
export interface PolicyContext {
  config: GatewayConfig;
  /** The Auth0 connection name. */
  connection: string;
  /** The Auth0 connection's `options` (read once and cached; needs read:connections). */
  connectionOptions: () => Promise<Record<string, unknown>>;
}

/**
 * How the tokens of some Auth0 strategies are renewed and how their users are sent back to sign
 * in. Each provider folder declares one; the broker knows none of them by name.
 */
export interface TokenPolicy {
  /** Auth0 strategies (identity `provider` or connection `strategy`) this policy serves. */
  strategies: readonly string[];
  /** The refresh endpoint; absent when the provider has no refresh grant (Facebook). */
  refreshEndpoint?: (context: PolicyContext) => Promise<RefreshEndpoint>;
  /** Authorize parameters a client adds to send the user back through the connection. */
  reauthorizeParams?: Record<string, string>;
  /**
   * False when a renewal never replaces the refresh token (Google). Anything else may rotate it,
   * so while the token store is unreachable such a renewal is refused: a rotated refresh token
   * held by one process only would be lost with it.
   */
  rotatesRefreshToken?: boolean;
  /**
   * How long the provider documents a used refresh token as still accepted after its first use
   * (Bitbucket: about 10 minutes). Within it, a renewal whose answer was lost (its sender died
   * mid-grant) may be sent again with the same refresh token. Absent or 0: no documented grace
   * (RFC 9700 reuse detection revokes the whole token family), so such a token is never replayed
   * while the earlier spend's outcome may still arrive.
   */
  reuseGraceMs?: number;
}

/** Credentials from the environment when both are set, else from the Auth0 connection's options. */
export async function appCredentials(
  context: PolicyContext,
  fromEnv: { clientId?: string; clientSecret?: string },
): Promise<{ clientId: string; clientSecret: string }> {
  if (fromEnv.clientId && fromEnv.clientSecret) return { clientId: fromEnv.clientId, clientSecret: fromEnv.clientSecret };
  const options = await context.connectionOptions();
  return {
    clientId: fromEnv.clientId ?? optionString(options, 'client_id') ?? '',
    clientSecret: fromEnv.clientSecret ?? optionString(options, 'client_secret') ?? '',
  };
}

/** A string option of an Auth0 connection; undefined when absent or not a string (never "[object Object]"). */
export function optionString(options: Record<string, unknown>, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' ? value : undefined;
}
