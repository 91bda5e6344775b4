import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.js';

// Failures caused by the caller are theirs to read in the response; the rest an operator must see.
const CALLER_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'QUERY_TOO_EXPENSIVE', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED']);

/**
 * Logs one line per field that failed for a reason other than the caller's own request (an
 * upstream outage, a rate limit, a misconfiguration), with its code, provider and path. Messages
 * are ours and carry no secret; upstream bodies are never logged here.
 */
export function useErrorLog({ logger }: { logger: Logger }): Plugin {
  return {
    onExecutionResult({ result }) {
      if (!result || !('errors' in result) || !result.errors) return;
      for (const error of result.errors) {
        const code = typeof error.extensions?.code === 'string' ? error.extensions.code : 'INTERNAL_SERVER_ERROR';
        if (CALLER_CODES.has(code)) continue;
        logger.warn(
          { event: 'field_failed', code, provider: error.extensions?.provider, path: error.path?.join('.') },
          `${error.path?.join('.') ?? 'operation'} failed: ${code}`,
        );
      }
    },
  };
}
