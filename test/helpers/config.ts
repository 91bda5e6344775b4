import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

/** A complete minimal environment; configuration tests add or break one thing at a time. */
export const VALID: Record<string, string> = {
  AUTH0_DOMAIN: 'acme.eu.auth0.com',
  AUTH0_AUDIENCE: 'https://gateway.example/api',
  AUTH0_CLIENT_ID: 'm2m-client',
  AUTH0_CLIENT_SECRET: 'm2m-secret-value',
};

/** A fresh TOKEN_ENCRYPTION_KEY value (32 random bytes, base64). */
export const key32 = (): string => randomBytes(32).toString('base64');

/** The ConfigError loadConfig throws for `env` (fails the test when it does not throw one). */
export function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}
