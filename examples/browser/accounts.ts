/**
 * A page that shows the signed-in user's linked accounts, calling the gateway with the user's own
 * Auth0 access token. Where a provider token is dead for good (REAUTHENTICATION_REQUIRED), the rest
 * of the page still renders, and a "Reconnect" button sends the user through that connection again
 * with the `authorizeParams` the gateway returned (e.g. Google's `prompt=consent` and
 * `access_type=offline`, without which Google issues no new refresh token).
 */
import { graphql } from '../gql/index.js';
import type { MyAccountsQuery } from '../gql/graphql.js';

const MyAccounts = graphql(`
  query MyAccounts {
    me {
      id
      name
      identities {
        provider
        connection
        token {
          state
        }
      }
      google {
        profile {
          email
          name
        }
      }
      facebook {
        profile {
          name
        }
      }
      github {
        profile {
          login
        }
        repositories(first: 3) {
          edges {
            node {
              nameWithOwner
            }
          }
        }
      }
      microsoft {
        profile {
          displayName
        }
      }
    }
  }
`);

/** Parameters for Auth0's `/authorize`: `connection`, `prompt`, and whatever that provider needs. */
export type AuthorizationParams = Record<string, string>;

/** The part of an auth0-spa-js `Auth0Client` this page uses. */
export interface AuthClient {
  /** The user's access token for the gateway's API (auth0-spa-js renews it as needed). */
  getTokenSilently(): Promise<string | undefined>;
  /** Leaves the page for Auth0's login; `authorizationParams` are added to the client's own (audience, redirect_uri). */
  loginWithRedirect(options: { authorizationParams: AuthorizationParams }): Promise<void>;
}

/** A connection the user must sign in with again, and how. */
export interface Reconnect {
  provider: string;
  connection: string;
  authorizationParams: AuthorizationParams;
}

/** What the page renders: the user (a field that failed is null) and the connections to reconnect. */
export interface AccountsView {
  me: MyAccountsQuery['me'];
  reconnect: Reconnect[];
}

interface GraphQLResponse<TData> {
  data?: TData | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** Asks the gateway for the user's accounts. Throws only when there is nothing to show at all. */
export async function loadAccounts(gatewayUrl: string, auth: AuthClient): Promise<AccountsView> {
  const token = await auth.getTokenSilently();
  if (!token) throw new Error('No access token: the user is not signed in.');
  const response = await fetch(gatewayUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query: MyAccounts.toString(), operationName: 'MyAccounts' }),
  });
  const { data, errors = [] } = (await response.json()) as GraphQLResponse<MyAccountsQuery>;
  if (!data) throw new Error(`The gateway answered HTTP ${response.status}: ${errors.map((error) => error.message).join('; ')}`);
  return { me: data.me, reconnect: reconnectsFrom(errors) };
}

/** One entry per connection that answered REAUTHENTICATION_REQUIRED (several fields may fail for one). */
function reconnectsFrom(errors: NonNullable<GraphQLResponse<unknown>['errors']>): Reconnect[] {
  const byConnection = new Map<string, Reconnect>();
  for (const { extensions } of errors) {
    if (extensions?.code !== 'REAUTHENTICATION_REQUIRED') continue;
    const { provider, connection, authorizeParams } = extensions as { provider: string; connection: string; authorizeParams?: AuthorizationParams };
    byConnection.set(connection, { provider, connection, authorizationParams: authorizeParams ?? { connection } });
  }
  return [...byConnection.values()];
}

/** Sends the user to Auth0 to sign in with that connection again (the page is left). */
export function reconnect(auth: AuthClient, target: Reconnect): Promise<void> {
  return auth.loginWithRedirect({ authorizationParams: target.authorizationParams });
}

/** The view as HTML: every value escaped; each reconnect button carries its connection in `data-connection`. */
export function renderAccounts({ me, reconnect }: AccountsView): string {
  const rows = me.identities.map((identity) => `<li>${escape(identity.connection)}: ${escape(identity.token.state)}</li>`);
  const google = me.google?.profile ? `<p>Google: ${escape(me.google.profile.name ?? '')} &lt;${escape(me.google.profile.email ?? '')}&gt;</p>` : '';
  const facebook = me.facebook?.profile ? `<p>Facebook: ${escape(me.facebook.profile.name ?? '')}</p>` : '';
  const repositories = me.github?.repositories?.edges.map(({ node }) => escape(node.nameWithOwner)).join(', ');
  const github = me.github?.profile ? `<p>GitHub: ${escape(me.github.profile.login)}${repositories ? ` (${repositories})` : ''}</p>` : '';
  const microsoft = me.microsoft?.profile ? `<p>Microsoft: ${escape(me.microsoft.profile.displayName ?? '')}</p>` : '';
  const buttons = reconnect.map(({ connection }) => `<button type="button" data-connection="${escape(connection)}">Reconnect ${escape(connection)}</button>`);
  return [`<h2>${escape(me.name ?? me.id)}</h2>`, `<ul>${rows.join('')}</ul>`, google, facebook, github, microsoft, ...buttons].filter(Boolean).join('\n');
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
