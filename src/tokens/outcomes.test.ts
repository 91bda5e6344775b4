import { describe, expect, it } from 'vitest';
import { ReauthenticationRequiredError } from '../errors.js';
import { guardStore } from './outcomes.js';
import { logSink } from '../testing/log-sink.js';

// guardStore wraps every token-store operation. A store failure (Redis down, a timeout) is
// UPSTREAM_UNAVAILABLE for the owner's provider — retryable, never a reason to make the user sign
// in again — and is logged once as a warning (event token_store_failed, with the provider and the
// error) so operators see the store, not the provider, is at fault. The gateway's own contract
// errors (e.g. REAUTHENTICATION_REQUIRED decided inside the operation) pass through unchanged and
// are not logged as store failures.

const OWNER = { provider: 'google-oauth2', connection: 'google-work' };

describe('guardStore', () => {
  it("returns the operation's result", async () => {
    const { lines, logger } = logSink();
    await expect(guardStore(logger, OWNER, async () => 'sealed-record')).resolves.toBe('sealed-record');
    expect(lines).toEqual([]);
  });

  it("turns a store failure into UPSTREAM_UNAVAILABLE for the owner's provider, saying the token store is at fault", async () => {
    const { logger } = logSink();
    const error = await guardStore(logger, OWNER, async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    }).then(
      () => undefined,
      (thrown: unknown) => thrown as { message: string; extensions: Record<string, unknown> },
    );
    expect(error?.extensions).toEqual({ code: 'UPSTREAM_UNAVAILABLE', provider: 'google-oauth2' });
    expect(error?.message).toBe('google-oauth2 is unavailable: the token store is unavailable');
  });

  it('logs a store failure once as a token_store_failed warning with the provider and the error', async () => {
    const { lines, logger } = logSink();
    await guardStore(logger, OWNER, async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    }).catch(() => undefined);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      event: 'token_store_failed',
      provider: 'google-oauth2',
      err: { type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:6379' },
      msg: 'token store unavailable',
    });
  });

  it("passes the gateway's own errors through unchanged, without logging a store failure", async () => {
    const { lines, logger } = logSink();
    const decided = new ReauthenticationRequiredError('google-oauth2', 'google-work', { reason: 'invalid_grant' });
    await expect(
      guardStore(logger, OWNER, async () => {
        throw decided;
      }),
    ).rejects.toBe(decided);
    expect(lines).toEqual([]);
  });
});
