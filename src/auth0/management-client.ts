import { AsyncResource } from 'node:async_hooks';
import PQueue from 'p-queue';
import { ConfigurationError, ProviderRateLimitedError, UpstreamUnavailableError } from '../errors.js';
import { currentRequestCaller, requestDeadline } from '../http/request-stats.js';
import type { AttemptReport, UpstreamClient, UpstreamResponse } from '../http/upstream.js';
import type { Logger } from '../logger.js';
import { auth0RetryAfterSeconds, type ManagementTokenProvider } from './management-token.js';
import type { Auth0Connection, Auth0User } from './types.js';

/** What the client needs. */
export interface ManagementClientDeps {
  origin: string;
  http: UpstreamClient;
  tokens: ManagementTokenProvider;
  maxConcurrency: number;
  maxRequestsPerSecond: number;
  /** A request that would wait longer than this for the bucket to refill fails fast instead. */
  maxRetryWaitMs: number;
  /** The time a GraphQL request has for its upstream waits, queue included; unset: no deadline. */
  requestTimeoutMs?: number;
  /** Called when a queued call is dropped because its request's deadline passed. */
  onQueueDeadline?: () => void;
  logger: Logger;
}

/**
 * Calls the Auth0 Management API (docs/upstream-apis.md#auth0). Every call goes through one queue that
 * caps concurrency and calls per second, so a burst of GraphQL requests is smoothed instead of
 * tripping the tenant's limit (Free: 2 req/s). The queue also listens to Auth0: when a response
 * says the bucket is empty, it pauses until `x-ratelimit-reset`, so the gateway adapts to whatever
 * plan the tenant is on. While paused, a request that would wait longer than the retry budget
 * fails at once with PROVIDER_RATE_LIMITED rather than holding its GraphQL response hostage.
 * A 401 renews the Management token once.
 *
 * The queue is shared by every caller, so it serves them in turns rather than first come, first
 * served: with plain FIFO, one partner's batch of 100 unknown ids (100 GETs at 10/s) made any other
 * caller's `me` wait ten seconds behind it. Each caller's queued calls are numbered 1, 2, 3 … from
 * where the queue stands, and the queue starts the lowest number first (ties in arrival order),
 * so each caller's n-th waiting call competes with every other caller's n-th: a newcomer waits about
 * one slot, and a big batch still gets its share.
 *
 * A call waits in the queue no longer than its request's deadline: one that has not started by then
 * leaves the queue and fails with UPSTREAM_UNAVAILABLE, so calls stuck on a hanging Auth0 cannot
 * hold unrelated reads past their deadline. While Auth0's circuit breaker is open, calls fail at
 * once instead of queueing.
 */
export class ManagementClient {
  private readonly queue: PQueue;
  private resumeTimer: NodeJS.Timeout | undefined;
  /** Epoch ms until which Auth0 said the bucket is empty. */
  private blockedUntil = 0;
  /**
   * Callers with calls waiting (not started) in the queue: how many, and the turn of the last one.
   * An entry is dropped when its last call starts, so the map only holds callers who are waiting.
   */
  private readonly waiting = new Map<string | undefined, { count: number; lastTurn: number }>();
  /** The turn of the call that started last; a caller with nothing waiting queues right after it. */
  private currentTurn = 0;

  constructor(private readonly deps: ManagementClientDeps) {
    this.queue = new PQueue({ concurrency: deps.maxConcurrency, ...rateWindow(deps.maxRequestsPerSecond) });
  }

  /** Called by the HTTP layer after every attempt against Auth0: pauses the queue on an empty bucket. */
  observe(report: AttemptReport): void {
    const headers = report.headers;
    if (!headers) return;
    const remaining = Number(headers['x-ratelimit-remaining']);
    if (report.status !== 429 && !(Number.isFinite(remaining) && remaining <= 0)) return;
    // Auth0's reset is an epoch-seconds timestamp; never believe more than a minute.
    const until = Date.now() + Math.min(auth0RetryAfterSeconds(headers) * 1000, 60_000);
    if (until <= this.blockedUntil) return;
    this.blockedUntil = until;
    this.queue.pause();
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      this.queue.start();
    }, until - Date.now());
    this.resumeTimer.unref();
  }

  /** GET /api/v2/users/{id}; null when the user does not exist. */
  async getUser(userId: string): Promise<Auth0User | null> {
    const response = await this.get(`/api/v2/users/${encodeURIComponent(userId)}`);
    if (response.status === 404) return null;
    return this.expectOk(response) as Auth0User;
  }

  /** One search call: GET /api/v2/users?q=…&search_engine=v3 (eventually consistent, at most 100 per page). */
  async searchUsers(query: string, perPage: number, fields?: string[]): Promise<Auth0User[]> {
    const response = await this.get(this.searchPath(query, perPage, fields));
    return this.expectOk(response) as Auth0User[];
  }

  /** The request path of a search, so callers can keep URLs under the length that answers 414. */
  searchPath(query: string, perPage: number, fields?: string[]): string {
    const params = new URLSearchParams({ q: query, search_engine: 'v3', per_page: String(perPage), page: '0' });
    if (fields) {
      params.set('fields', fields.join(','));
      params.set('include_fields', 'true');
    }
    return `/api/v2/users?${params.toString()}`;
  }

  /** GET /api/v2/connections?name=… ; null when no connection has that name. */
  async getConnectionByName(name: string): Promise<Auth0Connection | null> {
    const response = await this.get(`/api/v2/connections?${new URLSearchParams({ name }).toString()}`);
    const list = this.expectOk(response) as Auth0Connection[];
    return list.find((connection) => connection.name === name) ?? null;
  }

  /** Stops accepting work and waits for what is queued. */
  async close(): Promise<void> {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.queue.clear();
    this.waiting.clear();
    this.queue.start();
    await this.queue.onIdle();
  }

  private async get(path: string): Promise<UpstreamResponse> {
    const deadline = requestDeadline(this.deps.requestTimeoutMs);
    const timeLeft = deadline === undefined ? Infinity : deadline - Date.now();
    const blockedFor = this.blockedUntil - Date.now();
    if (blockedFor > Math.min(this.deps.maxRetryWaitMs, timeLeft)) throw new ProviderRateLimitedError('auth0', Math.ceil(blockedFor / 1000));
    if (!this.deps.http.accepting(this.deps.origin + path)) throw this.deps.http.refusal();
    // Bound to the caller's async context, so the call counts toward its request's upstream stats.
    const call = AsyncResource.bind(async () => {
      const token = await this.deps.tokens.token();
      const response = await this.send(path, token);
      if (response.status !== 401) return response;
      // The token was rejected (expired early, signing keys rotated): renew once, then give up.
      await this.deps.tokens.invalidate(token);
      return this.send(path, await this.deps.tokens.token());
    });
    // Outside a request (startup, background work) every call shares one anonymous turn sequence.
    const caller = currentRequestCaller();
    const turn = this.takeTurn(caller);
    // Aborts only while the call waits: once started, the HTTP client bounds it by the same deadline.
    const expiry = deadline === undefined ? undefined : new AbortController();
    const timer = expiry && setTimeout(() => expiry.abort(), Math.max(0, timeLeft));
    timer?.unref();
    try {
      // p-queue starts the highest priority first and keeps arrival order within one priority.
      return await this.queue.add(
        () => {
          clearTimeout(timer);
          this.started(caller, turn);
          return call();
        },
        { priority: -turn, signal: expiry?.signal },
      );
    } catch (error) {
      if (!expiry?.signal.aborted) throw error;
      this.leave(caller);
      this.deps.onQueueDeadline?.();
      throw new UpstreamUnavailableError('auth0', "no Management API call could start within the request's time limit");
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The turn of a caller's next call: one after its last waiting call, or one after the call that
   * started last when it has nothing waiting. Counting from where the queue stands, not from the
   * caller's own history, is what keeps it fair over time: a caller whose batch has been draining
   * for a while is not pushed behind a newcomer's whole burst, and a newcomer is not pushed behind
   * the whole batch. Called synchronously just before `queue.add`, which may start the call at once.
   */
  private takeTurn(caller: string | undefined): number {
    const entry = this.waiting.get(caller);
    const turn = Math.max(entry?.lastTurn ?? 0, this.currentTurn) + 1;
    if (entry) {
      entry.count += 1;
      entry.lastTurn = turn;
    } else {
      this.waiting.set(caller, { count: 1, lastTurn: turn });
    }
    return turn;
  }

  /** A call left the queue: the queue now stands at its turn, and its caller has one call fewer waiting. */
  private started(caller: string | undefined, turn: number): void {
    this.currentTurn = Math.max(this.currentTurn, turn);
    this.leave(caller);
  }

  /** A call of `caller` stopped waiting (started, or dropped at its deadline). */
  private leave(caller: string | undefined): void {
    const entry = this.waiting.get(caller);
    if (!entry) return;
    entry.count -= 1;
    if (entry.count === 0) this.waiting.delete(caller);
  }

  private send(path: string, token: string): Promise<UpstreamResponse> {
    return this.deps.http.send({ method: 'GET', url: this.deps.origin + path, headers: { authorization: `Bearer ${token}` } });
  }

  private expectOk(response: UpstreamResponse): unknown {
    if (response.status === 200) return response.body;
    const body = (response.body ?? {}) as { message?: string; errorCode?: string };
    if (response.status === 429) throw new ProviderRateLimitedError('auth0', auth0RetryAfterSeconds(response.headers));
    if (response.status === 401 || response.status === 403) {
      this.deps.logger.error(
        { event: 'management_api_refused', status: response.status, errorCode: body.errorCode, description: body.message },
        'the Management API refused the gateway',
      );
      throw new ConfigurationError('auth0', `the Management API refused the gateway's client (${body.errorCode ?? `HTTP ${response.status}`})`);
    }
    throw new UpstreamUnavailableError('auth0', `the Management API answered HTTP ${response.status}`);
  }
}

/**
 * p-queue's rate window for `perSecond` calls a second: about a tenth of a second holding a tenth of
 * the calls, rather than one second holding them all. The rate is the same, but a caller whose turn
 * comes when a window is used up waits for the next tenth of a second, not for the rest of the
 * second (a user's `me` behind a partner's batch waited up to a second before).
 */
export function rateWindow(perSecond: number): { intervalCap: number; interval: number } {
  const intervalCap = Math.max(1, Math.round(perSecond / 10));
  return { intervalCap, interval: (1000 * intervalCap) / perSecond };
}

/** How long Auth0 asks us to wait after a 429, in ms (Retry-After, else the epoch-seconds reset). */
export function auth0RateLimitWaitMs(response: { headers: Record<string, string | undefined> }): number {
  const seconds = auth0RetryAfterSeconds(response.headers);
  // Up to 20 % jitter so instances that were limited together do not return together.
  return Math.round(seconds * 1000 * (1 + Math.random() * 0.2));
}
