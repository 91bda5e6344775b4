import type { UpstreamResponse } from '../../http/upstream.js';
import { retryAfterSeconds, type ProviderApiDefinition, type ProviderFailure } from '../api.js';

/** What an RFC 6750 resource server (or a typical JSON API) puts in an error body. */
interface OAuth2ErrorBody {
  error?: unknown;
  error_description?: unknown;
  message?: unknown;
}

// Upstream text ends up in an error message: keep it short.
const MAX_MESSAGE_LENGTH = 200;

/**
 * Whatever API sits behind a custom OAuth 2.0 connection. Only RFC 6750 is common ground
 * (docs/upstream-apis.md#generic-oauth2): 401 with `WWW-Authenticate: Bearer error="invalid_token"` for a
 * refused token, 403 `insufficient_scope`, 400 `invalid_request`. Answers are capped at 1 MiB, since
 * callers choose the path and the gateway holds whole bodies in memory.
 */
export const oauth2Api: ProviderApiDefinition = {
  provider: 'oauth2',
  maxBodyBytes: 1024 * 1024,
  classify: (response: UpstreamResponse): ProviderFailure => {
    const { status } = response;
    if (status === 401) return { kind: 'unauthorized' };
    if (status === 429) return { kind: 'rate_limited', retryAfter: retryAfterSeconds(response, 60) };
    if (status === 404 || status === 410) return { kind: 'not_found' };
    if (status === 403) {
      // Renewing the token cannot add a scope; the caller asked for something this grant does not cover.
      return { kind: 'bad_request', message: `access denied (HTTP 403${describe(response) ? `: ${describe(response)}` : ''})` };
    }
    if (status >= 400 && status < 500) return { kind: 'bad_request', message: describe(response) ?? `HTTP ${status}` };
    // 5xx, and redirects: they are not followed, so a token never travels to where a Location points.
    return { kind: 'unavailable', detail: `HTTP ${status}` };
  },
};

/** `error: error_description` from the body, else from the Bearer challenge, else the body's `message`. */
function describe(response: UpstreamResponse): string | undefined {
  const body = (typeof response.body === 'object' && response.body !== null ? response.body : {}) as OAuth2ErrorBody;
  const challenge = bearerChallenge(response.headers['www-authenticate']);
  const code = text(body.error) ?? challenge.error;
  const description = text(body.error_description) ?? challenge.error_description ?? text(body.message);
  const joined = [code, description].filter(Boolean).join(': ');
  return joined ? shorten(joined) : undefined;
}

/** The `error` and `error_description` parameters of a `WWW-Authenticate: Bearer …` header. */
function bearerChallenge(header: string | undefined): { error?: string; error_description?: string } {
  if (!header || !/^\s*bearer\b/i.test(header)) return {};
  const found: Record<string, string> = {};
  for (const match of header.matchAll(/(error|error_description)\s*=\s*"([^"]*)"/gi)) {
    const name = match[1]?.toLowerCase();
    if (name && match[2] && !(name in found)) found[name] = match[2];
  }
  return found;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function shorten(value: string): string {
  return value.length > MAX_MESSAGE_LENGTH ? `${value.slice(0, MAX_MESSAGE_LENGTH)}…` : value;
}
