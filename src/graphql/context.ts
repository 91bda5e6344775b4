import type { Caller } from '../auth0/caller-token.js';
import type { UpstreamBudget } from '../limits/upstream-budget.js';
import type { Services } from '../services.js';

/** What every resolver sees: the authenticated caller, the gateway's services and the request's upstream budget. */
export interface GatewayContext {
  caller: Caller;
  services: Services;
  /** Provider calls this request may still make (MAX_UPSTREAM_CALLS). */
  upstreamBudget: UpstreamBudget;
  /**
   * The caller's own Auth0 access token (the subject token of a Token Vault exchange): a closure on
   * a non-enumerable property, so it never reaches a log line or an error; absent outside a request.
   */
  callerAccessToken?: () => string | undefined;
}
