import type { UpstreamResponse } from '../../http/upstream.js';
import { retryAfterSeconds, upstreamText, type ProviderApiDefinition, type ProviderFailure } from '../api.js';

/** Bitbucket's error envelope, `{"type":"error","error":{"message"}}`. */
interface BitbucketErrorBody {
  type?: string;
  error?: { message?: unknown; detail?: unknown; data?: { announcement_url?: unknown } };
}

/**
 * Bitbucket Cloud's 2.0 API and its error envelope `{"type":"error","error":{"message",…}}`
 * (docs/upstream-apis.md#bitbucket). A 403 and a 404 both mean "not visible to this account" (Bitbucket
 * answers 404 for a workspace the user cannot see), so the field is null. A 410 is an endpoint
 * Atlassian withdrew (CHANGE-2770): retrying cannot help, but it is not the caller's fault either.
 * Bitbucket's Retry-After on 429 is unconfirmed, so a limit without one suggests 60 s.
 */
export const bitbucketApi: ProviderApiDefinition = {
  provider: 'bitbucket',
  classify: (response: UpstreamResponse): ProviderFailure => {
    const error = (response.body as BitbucketErrorBody | undefined)?.error;
    const message = upstreamText(error?.message);
    switch (response.status) {
      case 401:
        return { kind: 'unauthorized' };
      case 429:
        return { kind: 'rate_limited', retryAfter: retryAfterSeconds(response, 60) };
      case 403:
      case 404:
        return { kind: 'not_found' };
      case 400: {
        const detail = upstreamText(error?.detail);
        return { kind: 'bad_request', message: [message ?? 'bad request', detail && `(${detail})`].filter(Boolean).join(' ') };
      }
      case 410: {
        // classify does not see the URL; the envelope names the change that withdrew the endpoint.
        const announcement = upstreamText(error?.data?.announcement_url);
        const why = [message, announcement && `see ${announcement}`].filter(Boolean).join('; ');
        return { kind: 'unavailable', detail: `the endpoint was withdrawn by Atlassian (HTTP 410 Gone${why ? `: ${why}` : ''})` };
      }
      default:
        return { kind: 'unavailable', detail: `HTTP ${response.status}${message ? ` (${message})` : ''}` };
    }
  },
};
