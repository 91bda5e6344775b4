import { CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhenResult, isBrokenCircuitError, type CircuitBreakerPolicy } from 'cockatiel';

/**
 * Circuit breakers for upstreams, one per upstream name and host (so a provider's API and its token
 * endpoint trip separately, and Auth0's tenant has one). The counting and the half-open probe are
 * cockatiel's; what counts as a failure is ours: a call that ended in a timeout, a network error or
 * a 5xx after its retries. A 4xx is an answer (the upstream is alive), a 429 is neither (the
 * rate-limit logic handles it), and a call cut short by its request's deadline before it had a fair
 * chance says nothing about the upstream.
 */

/** Where a breaker stands: `closed` lets calls through, `open` refuses them, `half_open` lets one probe through. */
export type BreakerState = 'closed' | 'half_open' | 'open';

/** How a finished call is judged. */
export type BreakerVerdict = 'success' | 'failure' | 'neutral';

/** Tuning of every breaker. */
export interface BreakerOptions {
  /** Consecutive failed calls that open a breaker. */
  failures: number;
  /** How long an open breaker refuses calls before it lets one probe through. */
  openMs: number;
  /** Told of every change of state (for metrics and logs). */
  onStateChange?: (upstream: string, host: string, state: BreakerState) => void;
}

/** Thrown by `UpstreamBreaker.run` when the breaker refuses the call. */
export class BreakerOpenError extends Error {
  override readonly name = 'BreakerOpenError';
  constructor(readonly upstream: string) {
    super(`${upstream}: circuit open`);
  }
}

/** A result judged neutral: carried past cockatiel's counting (an unhandled throw records nothing while closed). */
class Neutral<T> extends Error {
  constructor(readonly result: T) {
    super('neutral result');
  }
}

/** The breaker of one upstream host. */
export class UpstreamBreaker {
  private readonly policy: CircuitBreakerPolicy;
  private openedAt = 0;

  constructor(
    readonly upstream: string,
    readonly host: string,
    private readonly options: BreakerOptions,
  ) {
    this.policy = circuitBreaker(
      handleWhenResult((judged) => (judged as { verdict?: BreakerVerdict }).verdict === 'failure'),
      { halfOpenAfter: options.openMs, breaker: new ConsecutiveBreaker(options.failures) },
    );
    this.policy.onStateChange((state) => {
      if (state === CircuitState.Open) this.openedAt = Date.now();
      options.onStateChange?.(upstream, host, toBreakerState(state));
    });
  }

  /** The breaker's state; an open breaker whose time is up reads `open` until the next call probes. */
  get state(): BreakerState {
    return toBreakerState(this.policy.state);
  }

  /** Whether a call would be let through now (closed, or open long enough that it becomes the probe). */
  get accepting(): boolean {
    const state = this.policy.state;
    if (state === CircuitState.Closed) return true;
    return state === CircuitState.Open && Date.now() - this.openedAt >= this.options.openMs;
  }

  /**
   * Runs one call through the breaker and judges its result with `judge`. Throws BreakerOpenError
   * while open, and while a half-open probe is under way: cockatiel would make every other caller
   * wait for the probe, which may take a whole timeout.
   */
  async run<T>(call: () => Promise<T>, judge: (result: T) => BreakerVerdict): Promise<T> {
    if (this.policy.state === CircuitState.HalfOpen) throw new BreakerOpenError(this.upstream);
    try {
      const judged = await this.policy.execute(async () => {
        const result = await call();
        const verdict = judge(result);
        // A probe must decide: one that says nothing about the upstream counts as failed.
        if (verdict === 'neutral' && this.policy.state === CircuitState.HalfOpen) return { result, verdict: 'failure' as const };
        if (verdict === 'neutral') throw new Neutral(result);
        return { result, verdict };
      });
      return judged.result;
    } catch (error) {
      if (error instanceof Neutral) return error.result as T;
      if (isBrokenCircuitError(error)) throw new BreakerOpenError(this.upstream);
      throw error;
    }
  }
}

/** Every breaker of one gateway instance, made on first use. */
export class UpstreamBreakers {
  private readonly breakers = new Map<string, UpstreamBreaker>();

  constructor(private readonly options: BreakerOptions) {}

  /** The breaker of `upstream` at the host of `url`. */
  for(upstream: string, url: string): UpstreamBreaker {
    const host = new URL(url).host;
    const key = `${upstream}\u0000${host}`;
    let breaker = this.breakers.get(key);
    if (!breaker) {
      breaker = new UpstreamBreaker(upstream, host, this.options);
      this.breakers.set(key, breaker);
    }
    return breaker;
  }
}

function toBreakerState(state: CircuitState): BreakerState {
  if (state === CircuitState.Closed) return 'closed';
  return state === CircuitState.HalfOpen ? 'half_open' : 'open';
}
