import type { Plugin } from 'graphql-yoga';
import { currentRequestStats } from '../http/request-stats.js';

/**
 * Adds `extensions.upstream` (per upstream: requests, total time, last rate-limit state, and
 * `staleRecords`/`staleAgeSeconds` when cached records past their lifetime answered because the
 * upstream failed) to the response when the caller sends `x-upstream-stats: 1`. Off by default: it costs nothing unless
 * asked, and the figures are about the caller's own request only.
 */
export function useUpstreamStats(): Plugin {
  return {
    onExecute({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      if (request?.headers.get('x-upstream-stats') !== '1') return;
      return {
        onExecuteDone({ result, setResult }) {
          if (!result || !('data' in result || 'errors' in result)) return;
          setResult({ ...result, extensions: { ...result.extensions, upstream: currentRequestStats() } });
        },
      };
    },
  };
}
