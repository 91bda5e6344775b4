import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, errors as undiciErrors } from 'undici';
import { UpstreamUnavailableError } from '../errors.js';

/**
 * The one way the gateway talks HTTP to anything upstream (Auth0, providers): keep-alive pools,
 * connect and total timeouts, and bounded retries. Retrying is ours rather than undici's
 * RetryHandler because the policy is ours: only idempotent requests are retried, a rate-limit wait
 * is honoured only while it fits a budget (a synchronous GraphQL request must not hang for an
 * hour-long Retry-After), and every attempt is reported so rate-limit state and telemetry see it.
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
  /** The longest single wait this client accepts before retrying a 429. */
  maxRetryWaitMs: number;
  /** Largest body accepted; larger answers fail as unavailable rather than exhausting memory. */
  maxBodyBytes?: number;
  /** How long a 429 answer asks us to wait, in ms; undefined when it does not say. */
  rateLimitWaitMs?: (response: { status: number; headers: Record<string, string | undefined>; body: unknown }) => number | undefined;
  /** Called after every attempt. */
  onAttempt?: (report: AttemptReport) => void;
  /** Connection pool to use; one is created (and owned) when absent. */
  dispatcher?: Agent;
}

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
    const idempotent = req.idempotent ?? req.method === 'GET';
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      const retriesLeft = idempotent ? this.options.maxRetries - attempt + 1 : 0;
      const outcome = await this.attempt(req);
      if ('failed' in outcome) {
        if (outcome.failed === 'too_large') {
          throw new UpstreamUnavailableError(this.options.name, `the answer was larger than ${this.maxBodyBytes} bytes`);
        }
        if (retriesLeft > 0) {
          await sleep(backoffMs(attempt));
          continue;
        }
        throw new UpstreamUnavailableError(this.options.name, outcome.failed === 'timeout' ? 'the request timed out' : 'the connection failed');
      }
      const wait = this.retryDelay(outcome, attempt);
      if (wait !== undefined && retriesLeft > 0) {
        await sleep(wait);
        continue;
      }
      return { ...outcome, durationMs: performance.now() - started, attempts: attempt };
    }
  }

  /** Closes the connection pool if this client created it. */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private retryDelay(response: { status: number; headers: Record<string, string | undefined>; body: unknown }, attempt: number): number | undefined {
    if (RETRYABLE_STATUS.has(response.status)) return backoffMs(attempt);
    if (response.status !== 429) return undefined;
    const asked = this.options.rateLimitWaitMs?.(response) ?? backoffMs(attempt);
    return asked <= this.options.maxRetryWaitMs ? asked : undefined;
  }

  private get maxBodyBytes(): number {
    return this.options.maxBodyBytes ?? 5 * 1024 * 1024;
  }

  private async attempt(
    req: UpstreamRequest,
  ): Promise<{ status: number; headers: Record<string, string | undefined>; body: unknown } | { failed: 'timeout' | 'network' | 'too_large' }> {
    const started = performance.now();
    try {
      const response = await request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        dispatcher: this.dispatcher,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        signal: AbortSignal.timeout(this.options.timeoutMs),
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
