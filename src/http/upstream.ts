import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, errors as undiciErrors } from 'undici';
import { UpstreamUnavailableError } from '../errors.js';
import { BreakerOpenError, type BreakerVerdict, type UpstreamBreakers } from './breaker.js';
import { requestDeadline } from './request-stats.js';

/**
 * The one way the gateway talks HTTP to anything upstream (Auth0, providers): keep-alive pools,
 * connect and total timeouts, and bounded retries. Retrying is ours rather than undici's
 * RetryHandler because the policy is ours: only idempotent requests are retried, a rate-limit wait
 * is honoured only while it fits a budget (a synchronous GraphQL request must not hang for an
 * hour-long Retry-After), and every attempt is reported so rate-limit state and telemetry see it.
 *
 * Inside a GraphQL request every wait is also bounded by the request's deadline (REQUEST_TIMEOUT_MS
 * from when the gateway accepted it): an attempt's timeout is cut to the time left, and a retry (or
 * a rate-limit wait) that could not finish before the deadline is not made. Each call goes through
 * its upstream host's circuit breaker, so an upstream that keeps failing is left alone for a while
 * and its callers fail in milliseconds instead of waiting for timeouts.
 */

/** One upstream call. */
export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Safe to send again after a timeout or 5xx; defaults to true for GET. */
  idempotent?: boolean;
}

/** A finished call: the body is parsed JSON when the upstream said so, else text. */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | undefined>;
  body: unknown;
  /** Wall time of all attempts together, in milliseconds. */
  durationMs: number;
  attempts: number;
}

/** What one attempt looked like; for rate-limit bookkeeping and telemetry. */
export interface AttemptReport {
  status?: number;
  headers?: Record<string, string | undefined>;
  durationMs: number;
  failed?: 'timeout' | 'network' | 'too_large';
}

/** Tuning shared by every upstream client. */
export interface UpstreamOptions {
  /** Names the upstream in errors and telemetry, e.g. `auth0`, `google`. */
  name: string;
  connectTimeoutMs: number;
  /** Budget for one attempt, headers and body together. */
  timeoutMs: number;
  maxRetries: number;
  /** The longest single wait this client accepts before retrying a rate-limited answer. */
  maxRetryWaitMs: number;
  /** Largest body accepted; larger answers fail as unavailable rather than exhausting memory. */
  maxBodyBytes?: number;
  /** How long a rate-limited answer (see `isRateLimited`) asks us to wait, in ms; undefined when it does not say. */
  rateLimitWaitMs?: (response: { status: number; headers: Record<string, string | undefined>; body: unknown }) => number | undefined;
  /** Called after every attempt. */
  onAttempt?: (report: AttemptReport) => void;
  /** Connection pool to use; one is created (and owned) when absent. */
  dispatcher?: Agent;
  /** The time a GraphQL request has for all its upstream waits; unset: no request deadline. */
  requestTimeoutMs?: number;
  /** The instance's circuit breakers; unset: no breaker. */
  breakers?: UpstreamBreakers;
  /** Called when a request's deadline cut an attempt short (`attempt`) or stopped a retry (`retry`). */
  onDeadline?: (stage: 'attempt' | 'retry') => void;
  /** Called when an open circuit breaker refused a call. */
  onRefused?: () => void;
}

/** A call's end as the breaker judges it: an answer, or the error to throw and what it says about the upstream. */
type CallOutcome = { response: UpstreamResponse } | { error: UpstreamUnavailableError; verdict: BreakerVerdict };

/** Less time than this left before the deadline: an attempt is not started (it could hardly be answered). */
const MIN_ATTEMPT_MS = 50;
/** A timed-out attempt counts against the upstream only if it was given this long (or its whole timeout). */
const FAIR_ATTEMPT_MS = 1000;

const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);

/**
 * An HTTP client for one upstream. It never throws for an HTTP status: callers map statuses to the
 * contract's errors with the upstream's own error body in hand. It throws UpstreamUnavailableError
 * when no answer came (timeouts, network errors) after its retries.
 */
export class UpstreamClient {
  private readonly dispatcher: Agent;
  private readonly ownsDispatcher: boolean;

  constructor(readonly options: UpstreamOptions) {
    this.ownsDispatcher = !options.dispatcher;
    this.dispatcher = options.dispatcher ?? new Agent({ connect: { timeout: options.connectTimeoutMs }, keepAliveTimeout: 10_000, connections: 64 });
  }

  /** Sends a request with retries; resolves with the final answer whatever its status. */
  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const deadline = requestDeadline(this.options.requestTimeoutMs);
    const breaker = this.options.breakers?.for(this.options.name, req.url);
    let outcome: CallOutcome;
    try {
      outcome = breaker ? await breaker.run(() => this.deliver(req, deadline), judge) : await this.deliver(req, deadline);
    } catch (error) {
      if (!(error instanceof BreakerOpenError)) throw error;
      throw this.refusal();
    }
    if ('error' in outcome) throw outcome.error;
    return outcome.response;
  }

  /** Whether a call to `url` would be sent now (false while its circuit breaker is open). */
  accepting(url: string): boolean {
    return this.options.breakers?.for(this.options.name, url).accepting ?? true;
  }

  /** The error of a call the open breaker refuses (counted); for callers that check `accepting` before queueing. */
  refusal(): UpstreamUnavailableError {
    this.options.onRefused?.();
    return new UpstreamUnavailableError(this.options.name, 'it failed repeatedly, so calls are held back for a few seconds');
  }

  /** The attempts of one call, bounded by `deadline` (epoch ms) when there is one. */
  private async deliver(req: UpstreamRequest, deadline: number | undefined): Promise<CallOutcome> {
    const idempotent = req.idempotent ?? req.method === 'GET';
    const started = performance.now();
    // Whether an attempt failed in a way that says the upstream is unwell (not merely out of our time).
    let fairFailure = false;
    for (let attempt = 1; ; attempt++) {
      const retriesLeft = idempotent ? this.options.maxRetries - attempt + 1 : 0;
      const budget = Math.min(this.options.timeoutMs, deadline === undefined ? Infinity : deadline - Date.now());
      if (budget < MIN_ATTEMPT_MS) {
        this.options.onDeadline?.(attempt === 1 ? 'attempt' : 'retry');
        return { error: this.deadlineError(), verdict: fairFailure ? 'failure' : 'neutral' };
      }
      const outcome = await this.attempt(req, budget);
      if ('failed' in outcome) {
        if (outcome.failed === 'too_large') {
          return { error: new UpstreamUnavailableError(this.options.name, `the answer was larger than ${this.maxBodyBytes} bytes`), verdict: 'success' };
        }
        const cutByDeadline = outcome.failed === 'timeout' && budget < this.options.timeoutMs;
        fairFailure ||= !cutByDeadline || budget >= Math.min(this.options.timeoutMs, FAIR_ATTEMPT_MS);
        const wait = backoffMs(attempt);
        if (retriesLeft > 0 && fits(deadline, wait)) {
          await sleep(wait);
          continue;
        }
        if (cutByDeadline || retriesLeft > 0) {
          this.options.onDeadline?.(cutByDeadline ? 'attempt' : 'retry');
          return { error: this.deadlineError(), verdict: fairFailure ? 'failure' : 'neutral' };
        }
        const detail = outcome.failed === 'timeout' ? 'the request timed out' : 'the connection failed';
        return { error: new UpstreamUnavailableError(this.options.name, detail), verdict: 'failure' };
      }
      const wait = this.retryDelay(outcome, attempt);
      if (wait !== undefined && retriesLeft > 0) {
        if (fits(deadline, wait)) {
          await sleep(wait);
          continue;
        }
        this.options.onDeadline?.('retry');
      }
      return { response: { ...outcome, durationMs: performance.now() - started, attempts: attempt } };
    }
  }

  private deadlineError(): UpstreamUnavailableError {
    return new UpstreamUnavailableError(this.options.name, "no answer within the request's time limit");
  }

  /** Closes the connection pool if this client created it. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private retryDelay(response: { status: number; headers: Record<string, string | undefined>; body: unknown }, attempt: number): number | undefined {
    if (RETRYABLE_STATUS.has(response.status)) return backoffMs(attempt);
    if (!isRateLimited(response)) return undefined;
    const asked = this.options.rateLimitWaitMs?.(response) ?? backoffMs(attempt);
    return asked <= this.options.maxRetryWaitMs ? asked : undefined;
  }

  private get maxBodyBytes(): number {
    return this.options.maxBodyBytes ?? 5 * 1024 * 1024;
  }

  private async attempt(
    req: UpstreamRequest,
    timeoutMs: number,
  ): Promise<{ status: number; headers: Record<string, string | undefined>; body: unknown } | { failed: 'timeout' | 'network' | 'too_large' }> {
    const started = performance.now();
    try {
      const response = await request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        dispatcher: this.dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const headers = flattenHeaders(response.headers);
      const body = await readBody(response.body, headers['content-type'], this.maxBodyBytes);
      this.options.onAttempt?.({ status: response.statusCode, headers, durationMs: performance.now() - started });
      return { status: response.statusCode, headers, body };
    } catch (error) {
      const failed = error instanceof BodyTooLarge ? 'too_large' : isTimeout(error) ? 'timeout' : 'network';
      this.options.onAttempt?.({ durationMs: performance.now() - started, failed });
      return { failed };
    }
  }
}

/**
 * Whether an answer says "slow down": a 429, or a 403 naming a Retry-After (GitHub answers its
 * secondary rate limits so). Both are retried after the wait when it fits the budget.
 */
export function isRateLimited(response: { status: number; headers: Record<string, string | undefined> }): boolean {
  return response.status === 429 || (response.status === 403 && response.headers['retry-after'] !== undefined);
}

/** How the breaker reads an answer: a 5xx is a failure, a rate limit says nothing, anything else shows the upstream alive. */
function judge(outcome: CallOutcome): BreakerVerdict {
  if ('error' in outcome) return outcome.verdict;
  if (outcome.response.status >= 500) return 'failure';
  return isRateLimited(outcome.response) ? 'neutral' : 'success';
}

/** Whether waiting `waitMs` still leaves an attempt time before `deadline`. */
function fits(deadline: number | undefined, waitMs: number): boolean {
  return deadline === undefined || Date.now() + waitMs + MIN_ATTEMPT_MS <= deadline;
}

/** An answer over the size cap: not retried, since it would be as large again. */
class BodyTooLarge extends Error {}

/** Exponential backoff with full jitter: 100 ms, 200 ms, 400 ms … scaled by a random factor. */
function backoffMs(attempt: number): number {
  return Math.round(Math.random() * 100 * 2 ** (attempt - 1)) + 10;
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'))
  );
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  return flat;
}

async function readBody(stream: AsyncIterable<Buffer>, contentType: string | undefined, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > maxBytes) {
      if (stream instanceof Readable) stream.destroy();
      throw new BodyTooLarge();
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (contentType?.includes('json') && text.length > 0) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}

/** Seconds to wait according to a standard `Retry-After` header (delta seconds or an HTTP date). */
export function retryAfterMs(headers: Record<string, string | undefined>): number | undefined {
  const value = headers['retry-after'];
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
