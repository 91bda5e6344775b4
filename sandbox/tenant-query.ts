/**
 * How the simulated tenant reads Management API query strings: the Lucene `q` subset, paging and
 * `fields` projection, and the 400 bodies Auth0 answers when they are wrong.
 *
 * The `q` parser covers the subset of Auth0's user-search syntax (search engine v3) the gateway
 * uses. It is deliberately strict: Auth0 wants uppercase operators and quoted values for ids holding
 * `|` or `-`, so anything outside the documented forms is a syntax error (a 400 from the fake)
 * rather than a silent guess that would hide a bug in the gateway's query builder.
 *
 * Grammar: expr := and ('OR' and)* ; and := unary ('AND' unary)* ; unary := 'NOT' unary | primary ;
 * primary := '(' expr ')' | field ':' values ; values := value | '(' value ('OR' value)* ')' ;
 * value := "quoted" | bare (a bare value may use `*` as a wildcard).
 */

import type { SimResponse } from './http.js';

/** A parsed user query: a tree of AND/OR/NOT over `field:value` terms. */
export type UserQuery = { kind: 'and' | 'or'; parts: UserQuery[] } | { kind: 'not'; part: UserQuery } | { kind: 'term'; field: string; values: QueryValue[] };

/** One value of a term; bare values may carry wildcards, quoted ones are literal. */
export interface QueryValue {
  text: string;
  quoted: boolean;
}

/** Thrown for a query outside the supported subset; the tenant answers it with a 400. */
export class QuerySyntaxError extends Error {
  override name = 'QuerySyntaxError';
}

type Token = { type: '(' | ')' | ':' } | { type: 'word'; text: string } | { type: 'string'; text: string };

const OPERATORS = new Set(['AND', 'OR', 'NOT']);

/** Splits a query into parentheses, colons, quoted strings and bare words. */
function tokenize(q: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const ch = q[i] ?? '';
    if (/\s/.test(ch)) i += 1;
    else if (ch === '(' || ch === ')' || ch === ':') {
      tokens.push({ type: ch });
      i += 1;
    } else if (ch === '"') {
      let text = '';
      i += 1;
      while (i < q.length && q[i] !== '"') {
        if (q[i] === '\\') i += 1;
        text += q[i] ?? '';
        i += 1;
      }
      if (i >= q.length) throw new QuerySyntaxError(`Unterminated quoted value in ${JSON.stringify(q)}`);
      tokens.push({ type: 'string', text });
      i += 1;
    } else {
      const word = /^[^\s()":]+/.exec(q.slice(i))?.[0] ?? '';
      tokens.push({ type: 'word', text: word });
      i += word.length;
    }
  }
  return tokens;
}

/** Recursive-descent parser over the tokens of one query. */
class Parser {
  private position = 0;
  constructor(private readonly tokens: Token[]) {}

  parse(): UserQuery {
    const query = this.expression();
    if (this.peek()) throw new QuerySyntaxError(`Unexpected ${this.describe(this.peek())}`);
    return query;
  }

  private expression(): UserQuery {
    const parts = [this.conjunction()];
    while (this.acceptOperator('OR')) parts.push(this.conjunction());
    return parts.length === 1 && parts[0] ? parts[0] : { kind: 'or', parts };
  }

  private conjunction(): UserQuery {
    const parts = [this.unary()];
    while (this.acceptOperator('AND')) parts.push(this.unary());
    return parts.length === 1 && parts[0] ? parts[0] : { kind: 'and', parts };
  }

  private unary(): UserQuery {
    if (this.acceptOperator('NOT')) return { kind: 'not', part: this.unary() };
    if (this.accept('(')) {
      const inner = this.expression();
      this.expect(')');
      return inner;
    }
    const field = this.next();
    if (field?.type !== 'word' || OPERATORS.has(field.text) || !/^[A-Za-z_][\w.]*$/.test(field.text)) {
      throw new QuerySyntaxError(`Expected a field name, got ${this.describe(field)}`);
    }
    this.expect(':');
    return { kind: 'term', field: field.text, values: this.values() };
  }

  private values(): QueryValue[] {
    if (!this.accept('(')) return [this.value()];
    const values = [this.value()];
    while (this.acceptOperator('OR')) values.push(this.value());
    this.expect(')');
    return values;
  }

  private value(): QueryValue {
    const token = this.next();
    if (token?.type === 'string') return { text: token.text, quoted: true };
    if (token?.type === 'word' && !OPERATORS.has(token.text)) return { text: token.text, quoted: false };
    throw new QuerySyntaxError(`Expected a value, got ${this.describe(token)}`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.position];
  }

  private next(): Token | undefined {
    const token = this.tokens[this.position];
    this.position += 1;
    return token;
  }

  private accept(type: '(' | ')' | ':'): boolean {
    if (this.peek()?.type !== type) return false;
    this.position += 1;
    return true;
  }

  private acceptOperator(operator: string): boolean {
    const token = this.peek();
    if (token?.type !== 'word' || token.text !== operator) return false;
    this.position += 1;
    return true;
  }

  private expect(type: '(' | ')' | ':'): void {
    if (!this.accept(type)) throw new QuerySyntaxError(`Expected '${type}', got ${this.describe(this.peek())}`);
  }

  private describe(token: Token | undefined): string {
    if (!token) return 'end of query';
    return token.type === 'word' || token.type === 'string' ? JSON.stringify(token.text) : `'${token.type}'`;
  }
}

/** Parses a `q` parameter; throws QuerySyntaxError when it is outside the supported subset. */
export function parseUserQuery(q: string): UserQuery {
  const tokens = tokenize(q);
  if (tokens.length === 0) throw new QuerySyntaxError('Empty query');
  return new Parser(tokens).parse();
}

/** Collects the values at a dotted path, flattening arrays (so `identities.connection` means any identity). */
function valuesAt(record: unknown, path: string[]): unknown[] {
  if (Array.isArray(record)) return record.flatMap((item) => valuesAt(item, path));
  const [head, ...rest] = path;
  if (head === undefined) return record === undefined || record === null ? [] : [record];
  if (typeof record !== 'object' || record === null) return [];
  return valuesAt((record as Record<string, unknown>)[head], rest);
}

/** Compares one stored value with a query value; emails are case-insensitive as Auth0 lowercases them. */
function valueMatches(field: string, stored: unknown, wanted: QueryValue): boolean {
  if (typeof stored !== 'string' && typeof stored !== 'number' && typeof stored !== 'boolean') return false;
  const fold = field === 'email' || field.endsWith('.email');
  const actual = fold ? String(stored).toLowerCase() : String(stored);
  const text = fold ? wanted.text.toLowerCase() : wanted.text;
  if (wanted.quoted || !text.includes('*')) return actual === text;
  const pattern = text
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${pattern}$`).test(actual);
}

/** Tells whether a user record satisfies a parsed query. */
export function matchesUserQuery(query: UserQuery, user: Record<string, unknown>): boolean {
  switch (query.kind) {
    case 'and':
      return query.parts.every((part) => matchesUserQuery(part, user));
    case 'or':
      return query.parts.some((part) => matchesUserQuery(part, user));
    case 'not':
      return !matchesUserQuery(query.part, user);
    case 'term': {
      const stored = valuesAt(user, query.field.split('.'));
      return query.values.some((wanted) => stored.some((value) => valueMatches(query.field, value, wanted)));
    }
  }
}

// ---- Query parameters other than q, and Management API error bodies ----

/** Builds a Management API error body `{statusCode, error, message, errorCode?}`. */
export function apiError(status: number, error: string, message: string, errorCode?: string): SimResponse {
  return { status, body: { statusCode: status, error, message, ...(errorCode ? { errorCode } : {}) } };
}

/** Auth0's wording for a query parameter that fails schema validation. */
function queryValidation(detail: string, property: string): SimResponse {
  const message = `Query validation error: '${detail}' on property ${property}.`;
  return apiError(400, 'Bad Request', message, 'invalid_query_string');
}

/** Applies `fields`/`include_fields` to a top-level record, as every Management API read does. */
export function project<T extends Record<string, unknown>>(record: T, query: URLSearchParams): Partial<T> {
  const fields = (query.get('fields') ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  if (fields.length === 0) return record;
  const include = query.get('include_fields') !== 'false';
  const wanted = new Set(fields);
  return Object.fromEntries(Object.entries(record).filter(([key]) => wanted.has(key) === include)) as Partial<T>;
}

/** Reads an optional non-negative integer query parameter, or returns the 400 it deserves. */
function integerParam(query: URLSearchParams, name: string, fallback: number, max: number): number | SimResponse {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) return queryValidation(`Expected type integer but found type string`, name);
  const value = Number(raw);
  return value > max ? queryValidation(`Too big: ${value} (maximum ${max})`, name) : value;
}

/** Validates search_engine, page and per_page the way Auth0's query schema does. */
export function searchPaging(query: URLSearchParams): { page: number; perPage: number } | SimResponse {
  const engine = query.get('search_engine');
  if (engine === 'v1' || engine === 'v2') {
    const message = `The search_engine ${engine} is no longer supported. Use v3.`;
    return apiError(400, 'Bad Request', message, 'invalid_query_string');
  }
  if (engine !== null && engine !== 'v3') return queryValidation(`No enum match for: ${engine}`, 'search_engine');
  const page = integerParam(query, 'page', 0, Number.MAX_SAFE_INTEGER);
  if (typeof page !== 'number') return page;
  const perPage = integerParam(query, 'per_page', 50, 100);
  if (typeof perPage !== 'number') return perPage;
  if ((page + 1) * perPage > 1000) {
    const message = 'You can only page through the first 1000 records. ' + 'See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation';
    return apiError(400, 'Bad Request', message, 'invalid_query_string');
  }
  return { page, perPage };
}
