import type { UpstreamResponse } from '../../http/upstream.js';
import { retryAfterSeconds, upstreamText, type ProviderApiDefinition, type ProviderFailure } from '../api.js';

/** Microsoft Graph's error envelope, `{"error":{"code","message","innerError":{…}}}`. */
interface GraphErrorBody {
  error?: { code?: unknown; message?: unknown };
}

// The codes Graph uses when the token lacks a delegated permission: Exchange-backed resources
// (mail, calendar) answer ErrorAccessDenied, directory-backed ones (/me) Authorization_RequestDenied.
const PERMISSION_CODES = new Set(['ErrorAccessDenied', 'Authorization_RequestDenied']);

// Graph always sends Retry-After with a 429; should it not, wait this long (seconds).
const DEFAULT_RETRY_AFTER = 10;

/**
 * Microsoft Graph v1.0 (docs/upstream-apis.md#microsoft). Every call asks for times in UTC
 * (`Prefer: outlook.timezone="UTC"`), so event start and end come back as UTC wall-clock times;
 * Graph ignores the preference where it has no times to convert.
 *
 * - 401 (`InvalidAuthenticationToken`, whatever the message): renew once, then re-authenticate.
 * - 429, and 503 with Retry-After: still limiting after the HTTP client's retries.
 * - 403 `ErrorAccessDenied`/`Authorization_RequestDenied`: the token lacks a delegated permission;
 *   a sign-in asking for the same scopes would not add it, so it is never REAUTHENTICATION_REQUIRED.
 * - 404: the thing (e.g. a drive the account does not have) does not exist, the field is null.
 */
export const microsoftApi: ProviderApiDefinition = {
  // Errors name the Auth0 strategy, as the token broker's do; personal accounts (windowslive) share it.
  provider: 'waad',
  headers: { prefer: 'outlook.timezone="UTC"' },
  classify: (response: UpstreamResponse): ProviderFailure => {
    // Bodies are read defensively: a proxy's or a truncated answer must still classify, not throw.
    const error = (response.body as GraphErrorBody | null | undefined)?.error;
    const code = upstreamText(error?.code);
    const named = `HTTP ${response.status}${code ? ` (${code})` : ''}`;
    switch (response.status) {
      case 401:
        return { kind: 'unauthorized' };
      case 429:
        return { kind: 'rate_limited', retryAfter: retryAfterSeconds(response, DEFAULT_RETRY_AFTER) };
      case 503:
        // Graph sends Retry-After with a 503 when it sheds load; without one it is simply down.
        return response.headers['retry-after'] !== undefined
          ? { kind: 'rate_limited', retryAfter: retryAfterSeconds(response, DEFAULT_RETRY_AFTER) }
          : { kind: 'unavailable', detail: named };
      case 403:
        return code && PERMISSION_CODES.has(code) ? { kind: 'permission_denied', detail: code } : { kind: 'unavailable', detail: named };
      case 404:
        return { kind: 'not_found' };
      case 400:
        return { kind: 'bad_request', message: upstreamText(error?.message) ?? 'bad request' };
      default:
        return { kind: 'unavailable', detail: named };
    }
  },
};

/** Graph's `dateTimeTimeZone`: a wall-clock time without offset and the zone it is in. */
export interface GraphDateTimeTimeZone {
  dateTime?: unknown;
  timeZone?: unknown;
}

// Graph's names for UTC (Windows and IANA spellings); with `Prefer: outlook.timezone="UTC"` it uses "UTC".
const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'Etc/GMT', 'Coordinated Universal Time']);
const WALL_CLOCK = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?$/;

/**
 * An event time as an instant: `{dateTime: "2026-12-01T09:00:00.0000000", timeZone: "UTC"}` is
 * 2026-12-01T09:00:00.000Z. Graph answers in UTC because every call prefers it; a time in any other
 * zone (the preference ignored) is null rather than a guess, as is anything unreadable.
 */
export function graphInstant(time: GraphDateTimeTimeZone | null | undefined): Date | null {
  if (typeof time?.dateTime !== 'string' || typeof time.timeZone !== 'string' || !UTC_ZONES.has(time.timeZone)) return null;
  const match = WALL_CLOCK.exec(time.dateTime);
  if (!match) return null;
  // Graph gives seven fractional digits; an instant keeps milliseconds.
  const instant = new Date(`${match[1]}${(match[2] ?? '').slice(0, 4)}Z`);
  return Number.isNaN(instant.getTime()) ? null : instant;
}
