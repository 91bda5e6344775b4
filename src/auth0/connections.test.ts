import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionDirectory } from './connections.js';
import type { ManagementClient } from './management-client.js';
import type { Auth0Connection } from './types.js';

// Connection options hold provider app credentials, so the directory keeps them in memory for five
// minutes and no longer: a secret rotated in Auth0 reaches the gateway within that time.

const FIVE_MINUTES = 5 * 60_000;

function directory(connections: Record<string, Auth0Connection>) {
  const reads: string[] = [];
  const client = {
    getConnectionByName: (name: string) => {
      reads.push(name);
      return Promise.resolve(connections[name] ?? null);
    },
  } as unknown as ManagementClient;
  return { directory: new ConnectionDirectory(client), reads };
}

const google: Auth0Connection = { id: 'con_1', name: 'google-oauth2', strategy: 'google-oauth2', options: { client_id: 'app', client_secret: 'first' } };

describe('ConnectionDirectory', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-01-01T00:00:00.000Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reads a connection once within five minutes, and again at five minutes', async () => {
    const { directory: connections, reads } = directory({ 'google-oauth2': google });
    await connections.options('google-oauth2');
    vi.setSystemTime(Date.now() + FIVE_MINUTES - 1);
    await connections.options('google-oauth2');
    expect(reads).toHaveLength(1);
    vi.setSystemTime(Date.now() + 1);
    await connections.options('google-oauth2');
    expect(reads).toHaveLength(2);
  });

  it('hands over a rotated client secret once the cached options have aged out', async () => {
    const tenant = { 'google-oauth2': google };
    const { directory: connections } = directory(tenant);
    expect(await connections.options('google-oauth2')).toMatchObject({ client_secret: 'first' });
    tenant['google-oauth2'] = { ...google, options: { client_id: 'app', client_secret: 'second' } };
    expect(await connections.options('google-oauth2')).toMatchObject({ client_secret: 'first' });
    vi.setSystemTime(Date.now() + FIVE_MINUTES);
    expect(await connections.options('google-oauth2')).toMatchObject({ client_secret: 'second' });
  });

  it('answers CONFIGURATION_ERROR naming the connection when the tenant has none by that name', async () => {
    const { directory: connections } = directory({});
    await expect(connections.options('github')).rejects.toMatchObject({
      code: 'CONFIGURATION_ERROR',
      extensions: { provider: 'auth0' },
      message: 'The gateway is misconfigured for auth0: the Auth0 tenant has no connection named github',
    });
  });

  it('gives a connection without options as no options', async () => {
    const { directory: connections } = directory({ bare: { id: 'con_2', name: 'bare', strategy: 'oauth2' } });
    expect(await connections.options('bare')).toEqual({});
  });
});
