import { QueryTooExpensiveError } from '../errors.js';

/**
 * The provider calls one GraphQL request may still make: the run-time backstop of the estimate
 * made before execution. The estimate assumes one identity of each asked-for type per user; a user
 * with many (say, twenty custom OAuth2 connections under one `request` selection) could exceed
 * it, and this budget is what stops that: every call past the limit fails its own field with
 * QUERY_TOO_EXPENSIVE, and the rest of the response still arrives. One budget per request, made
 * with its context; identical calls deduplicated within a request are counted once.
 */
export class UpstreamBudget {
  private spent = 0;

  constructor(readonly limit: number) {}

  /** Counts one upstream call, or throws QUERY_TOO_EXPENSIVE when the request has none left. */
  spend(): void {
    this.spent += 1;
    if (this.spent > this.limit) throw new QueryTooExpensiveError(this.spent, this.limit, false);
  }

  /** Calls counted so far (refused ones included). */
  get used(): number {
    return this.spent;
  }
}
