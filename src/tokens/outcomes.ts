import { GatewayError, ReauthenticationRequiredError, UpstreamUnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TokenPolicy } from './policy.js';

/** Whose token an outcome is about: the Auth0 strategy and connection. */
interface TokenOwner {
  provider: string;
  connection: string;
}

/**
 * REAUTHENTICATION_REQUIRED for an owner, with the `authorizeParams` a client adds to Auth0's
 * `/authorize` to send the user through that connection again: the connection, `prompt=consent`,
 * and what the provider's policy asks for besides (Google: `access_type=offline`).
 */
export function reauthenticationRequired(policies: readonly TokenPolicy[], owner: TokenOwner, reason: string): ReauthenticationRequiredError {
  const policy = policies.find((candidate) => candidate.strategies.includes(owner.provider));
  const authorizeParams = { connection: owner.connection, prompt: 'consent', ...policy?.reauthorizeParams };
  return new ReauthenticationRequiredError(owner.provider, owner.connection, { reason, authorizeParams });
}

/**
 * Runs a token-store operation: its failure is UPSTREAM_UNAVAILABLE for the owner's provider (logged
 * once), never a reason to re-authenticate. The contract's own errors pass through.
 */
export async function guardStore<T>(logger: Logger, owner: TokenOwner, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    logger.warn({ event: 'token_store_failed', provider: owner.provider, err: error }, 'token store unavailable');
    throw new UpstreamUnavailableError(owner.provider, 'the token store is unavailable');
  }
}
