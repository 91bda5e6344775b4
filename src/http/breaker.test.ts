import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BreakerOpenError, UpstreamBreakers, type BreakerState, type BreakerVerdict } from './breaker.js';

// A breaker opens after `failures` consecutive failed calls, refuses calls while open (without
// running them), lets one probe through after `openMs`, and closes when the probe succeeds. A
// neutral call (a 429, a call cut short by its request's deadline) neither counts nor resets.

const OPEN_MS = 1000;

function setup() {
  const changes: [string, string, BreakerState][] = [];
  const breakers = new UpstreamBreakers({ failures: 3, openMs: OPEN_MS, onStateChange: (upstream, host, state) => changes.push([upstream, host, state]) });
  const breaker = breakers.for('auth0', 'https://acme.eu.auth0.com/api/v2/users/x');
  let calls = 0;
  const run = (verdict: BreakerVerdict) =>
    breaker.run(
      () => {
        calls += 1;
        return Promise.resolve(verdict);
      },
      (result) => result,
    );
  return { breakers, breaker, changes, run, calls: () => calls };
}

describe('UpstreamBreaker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2030, 0, 1) });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens after consecutive failures and then refuses calls without running them', async () => {
    const { breaker, run, calls, changes } = setup();
    for (let i = 0; i < 3; i++) expect(await run('failure')).toBe('failure');
    expect(breaker.state).toBe('open');
    expect(breaker.accepting).toBe(false);
    await expect(run('success')).rejects.toBeInstanceOf(BreakerOpenError);
    expect(calls()).toBe(3);
    expect(changes).toEqual([['auth0', 'acme.eu.auth0.com', 'open']]);
  });

  it('counts only consecutive failures: a success resets, a neutral call neither counts nor resets', async () => {
    const { breaker, run } = setup();
    await run('failure');
    await run('failure');
    await run('success');
    await run('failure');
    await run('neutral');
    await run('failure');
    expect(breaker.state).toBe('closed');
    await run('failure');
    expect(breaker.state).toBe('open');
  });

  it('lets one probe through after openMs and closes when it succeeds', async () => {
    const { breaker, run, changes } = setup();
    for (let i = 0; i < 3; i++) await run('failure');
    vi.advanceTimersByTime(OPEN_MS - 1);
    expect(breaker.accepting).toBe(false);
    vi.advanceTimersByTime(1);
    expect(breaker.accepting).toBe(true);
    expect(await run('success')).toBe('success');
    expect(breaker.state).toBe('closed');
    expect(changes.map(([, , state]) => state)).toEqual(['open', 'half_open', 'closed']);
  });

  it('refuses other calls while the probe runs, and opens again when the probe fails', async () => {
    const { breaker, run, calls } = setup();
    for (let i = 0; i < 3; i++) await run('failure');
    vi.advanceTimersByTime(OPEN_MS);
    let finishProbe: (verdict: BreakerVerdict) => void = () => undefined;
    const probe = breaker.run(
      () => new Promise<BreakerVerdict>((resolve) => (finishProbe = resolve)),
      (result) => result,
    );
    expect(breaker.state).toBe('half_open');
    await expect(run('success')).rejects.toBeInstanceOf(BreakerOpenError);
    finishProbe('failure');
    expect(await probe).toBe('failure');
    expect(breaker.state).toBe('open');
    await expect(run('success')).rejects.toBeInstanceOf(BreakerOpenError);
    expect(calls()).toBe(3);
  });

  it('counts a neutral probe as failed: a probe must show the upstream answers', async () => {
    const { breaker, run } = setup();
    for (let i = 0; i < 3; i++) await run('failure');
    vi.advanceTimersByTime(OPEN_MS);
    expect(await run('neutral')).toBe('neutral');
    expect(breaker.state).toBe('open');
  });

  it('keeps one breaker per upstream and host', () => {
    const { breakers, breaker } = setup();
    expect(breakers.for('auth0', 'https://acme.eu.auth0.com/oauth/token')).toBe(breaker);
    expect(breakers.for('google-oauth2', 'https://oauth2.googleapis.com/token')).not.toBe(breakers.for('google-oauth2', 'https://www.googleapis.com/x'));
  });
});
