import type { ExecutionArgs } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { BadUserInputError, QueryTooExpensiveError, type GatewayError } from '../errors.js';
import { estimateUpstreamCalls } from '../graphql/cost.js';
import { MAX_USER_IDS } from '../graphql/user.js';
import { UpstreamBudget } from '../limits/upstream-budget.js';

/** Options of useUpstreamBudget. */
export interface UpstreamBudgetOptions {
  /** Upstream calls one operation may cause (MAX_UPSTREAM_CALLS). */
  maxUpstreamCalls: number;
}

/**
 * Keeps one request from turning into thousands of upstream calls. Before execution, with the
 * variables known, the operation's cost is estimated from the costs its fields declare
 * (graphql/cost.ts): over MAX_UPSTREAM_CALLS it is refused whole with QUERY_TOO_EXPENSIVE (its
 * `cost` and `limit` in extensions), and more than MAX_USER_IDS user ids across all `user`/`users`
 * fields and aliases is BAD_USER_INPUT; either way nothing upstream is called. During execution
 * the same limit is counted again per request (`upstreamBudget` on the context) as a backstop.
 */
export function useUpstreamBudget({ maxUpstreamCalls }: UpstreamBudgetOptions): Plugin<{ upstreamBudget: UpstreamBudget }> {
  return {
    onContextBuilding({ extendContext }) {
      extendContext({ upstreamBudget: new UpstreamBudget(maxUpstreamCalls) });
    },
    onExecute({ args, setResultAndStopExecution }) {
      const { schema, document, operationName, variableValues } = args as ExecutionArgs;
      const { cost, userIds } = estimateUpstreamCalls(schema, document, operationName, variableValues);
      let refusal: GatewayError | undefined;
      if (userIds > MAX_USER_IDS) {
        refusal = BadUserInputError.forRequest(
          `A request may name at most ${MAX_USER_IDS} user ids across all user and users fields; this one names ${userIds}.`,
          { maxIds: MAX_USER_IDS },
        );
      } else if (cost > maxUpstreamCalls) {
        refusal = new QueryTooExpensiveError(cost, maxUpstreamCalls, true);
      }
      if (refusal) setResultAndStopExecution({ errors: [refusal] });
    },
  };
}
