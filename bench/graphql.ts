import type { LoadTarget } from './load.js';

/** A GraphQL answer as the benchmark reads it. */
export interface Answer<TData = Record<string, unknown>> {
  status: number;
  text: string;
  data?: TData | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  ms: number;
}

/** POSTs one operation (bounded by `timeoutMs`) and parses the answer. */
export async function postGraphQL<TData = Record<string, unknown>>(
  url: string,
  token: string,
  query: string,
  variables?: Record<string, unknown>,
  timeoutMs = 60_000,
): Promise<Answer<TData>> {
  const started = performance.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(variables ? { query, variables } : { query }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  try {
    const body = JSON.parse(text) as Pick<Answer<TData>, 'data' | 'errors'>;
    return { status: response.status, text, data: body.data, errors: body.errors, ms };
  } catch {
    return { status: response.status, text, ms };
  }
}

/** A load target sending `query` as autocannon does (no Accept header), for the body a probe found. */
export function graphqlTarget(name: string, url: string, token: string, query: string, pid?: number): LoadTarget {
  return {
    name,
    pid,
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  };
}

/**
 * Sends the target's request once, exactly as the load will, and checks the answer: 200 and
 * `check(body)` true. Returns the body text (the load then expects exactly it); throws otherwise.
 */
export async function probe(target: LoadTarget, check: (body: unknown) => boolean): Promise<string> {
  const response = await fetch(target.url, {
    method: target.method ?? 'GET',
    headers: target.headers,
    body: target.body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.status !== 200 || !check(body)) throw new Error(`${target.name}: unexpected answer ${response.status} ${text.slice(0, 500)}`);
  return text;
}
