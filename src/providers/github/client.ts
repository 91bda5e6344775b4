import { GraphQLClient } from 'graphql-request';
import { GatewayError, UpstreamUnavailableError } from '../../errors.js';
import type { TokenSubject } from '../../tokens/broker.js';
import type { ProviderApi, ProviderCallScope } from '../api.js';
import { buildViewerDocument, readViewerAnswer, type PartResult, type ViewerPart } from './viewer.js';

// The answer headers worth handing to graphql-request and the reader: the type and GitHub's limits.
const KEPT_HEADERS = /^(content-type|retry-after|x-ratelimit-[a-z]+|x-github-request-id)$/;

/**
 * Sends one identity's parts to GitHub's GraphQL endpoint as one document and returns each part's
 * result by part key. graphql-request builds and reads the GraphQL exchange (`errorPolicy: 'all'`,
 * so partial data arrives with its errors); its `fetch` is the gateway's provider client, so the
 * request spends the request's upstream budget once, goes through the circuit breaker, deadline,
 * retries and metrics, carries the broker's token only in the Authorization header, and a refused
 * token is renewed once. Failures of the whole exchange throw the contract's errors.
 */
export async function fetchViewer(
  api: ProviderApi,
  scope: ProviderCallScope,
  subject: TokenSubject,
  graphqlUrl: string,
  parts: readonly ViewerPart[],
): Promise<Map<string, PartResult>> {
  const document = buildViewerDocument(parts);
  const client = new GraphQLClient(graphqlUrl, { fetch: providerFetch(api, scope, subject), errorPolicy: 'all' });
  let answer;
  try {
    answer = await client.rawRequest<unknown>(document.query, document.variables);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    // A 2xx whose body is no GraphQL result (a proxy's page, say); graphql-request's own message would quote it.
    throw new UpstreamUnavailableError('github', 'the answer was not a GraphQL result');
  }
  const headers: Record<string, string | undefined> = {};
  answer.headers.forEach((value, name) => (headers[name] = value));
  return readViewerAnswer(document, { data: answer.data, errors: answer.errors, headers });
}

/** The `fetch` graphql-request calls: one POST through the provider client, its answer rebuilt as a Response. */
function providerFetch(api: ProviderApi, scope: ProviderCallScope, subject: TokenSubject): typeof fetch {
  return async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    const body = typeof init?.body === 'string' ? init.body : undefined;
    // A GraphQL query only reads, so a timeout or 5xx may be sent again.
    const response = await api.send(scope, subject, { method: 'POST', url, body, contentType: 'application/json', idempotent: true });
    if (!response) throw new UpstreamUnavailableError('github', 'the GraphQL endpoint was not found');
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) if (value !== undefined && KEPT_HEADERS.test(name)) headers.set(name, value);
    if (typeof response.body !== 'string') headers.set('content-type', 'application/json');
    const text = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
    return new Response(text, { status: response.status, headers });
  };
}
