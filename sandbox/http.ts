import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The plumbing every simulator shares: a loopback HTTP server, a tiny router, call counters and
 * fault injection. Simulators are the fakes of the tests too, so counting calls and injecting
 * failures lives here once rather than in every fake.
 */

/** One parsed request as a simulator route sees it. */
export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Raw body text ('' for none). */
  body: string;
  /** Regex groups of the matched route, URL-decoded. */
  params: string[];
  /** Full request URL as received (path and query). */
  url: string;
}

/** What a route answers; `body` is JSON-encoded unless it is a string. */
export interface SimResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A scripted failure for one route: answer this instead of the real handler. */
export interface Fault {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Wait this long before answering (or before running the real handler when no status is set). */
  delayMs?: number;
  /** Never answer: the connection stays open until the server closes. */
  hang?: boolean;
  /** Destroy the socket without an answer (a network error for the client). */
  reset?: boolean;
  /** How many requests this fault applies to; default 1. */
  times?: number;
}

type Handler = (req: SimRequest) => SimResponse | Promise<SimResponse>;

interface Route {
  name: string;
  method: string;
  pattern: RegExp;
  handler: Handler;
}

/** Reads a whole request body as text. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses a form or JSON body into a flat record, as OAuth token endpoints accept both. */
export function parseFormOrJson(req: SimRequest): Record<string, string> {
  const type = String(req.headers['content-type'] ?? '');
  if (type.includes('application/json')) {
    try {
      const parsed = JSON.parse(req.body || '{}') as Record<string, unknown>;
      return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(req.body));
}

/** Decodes `Authorization: Basic` into client id and secret, or undefined. */
export function basicCredentials(req: SimRequest): { id: string; secret: string } | undefined {
  const header = String(req.headers.authorization ?? '');
  if (!header.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return {
    id: decodeURIComponent(decoded.slice(0, colon)),
    secret: decodeURIComponent(decoded.slice(colon + 1)),
  };
}

/** Returns the bearer token of a request, or undefined. */
export function bearerToken(req: SimRequest): string | undefined {
  const header = String(req.headers.authorization ?? '');
  return header.startsWith('Bearer ') ? header.slice(7) : undefined;
}

/**
 * Base of every simulator: routes by name, counts calls per route name, and replays injected
 * faults before the real handler. Subclasses register routes in their constructor and are
 * started with `listen()`.
 */
export class Simulator {
  /** Calls per route name since start (or the last `resetCounters()`). */
  readonly calls: Record<string, number> = {};
  /** Every request received, in order (method, path and query; never the body). */
  readonly requests: { route: string; method: string; url: string }[] = [];
  private readonly routes: Route[] = [];
  private readonly faults = new Map<string, Fault[]>();
  private server: Server | undefined;
  private readonly sockets = new Set<import('node:net').Socket>();
  origin = '';

  /** Registers a route; `pattern` is matched against the path (without the query). */
  protected route(name: string, method: string, pattern: RegExp, handler: Handler): void {
    this.routes.push({ name, method, pattern, handler });
  }

  /** Makes the next `fault.times` (default 1) calls of a route answer with `fault`. */
  injectFault(routeName: string, fault: Fault): void {
    const list = this.faults.get(routeName) ?? [];
    list.push({ times: 1, ...fault });
    this.faults.set(routeName, list);
  }

  /** Drops every pending fault. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Zeroes the call counters and forgets the request log. */
  resetCounters(): void {
    for (const key of Object.keys(this.calls)) delete this.calls[key];
    this.requests.length = 0;
  }

  /** How many calls a route has had. */
  count(routeName: string): number {
    return this.calls[routeName] ?? 0;
  }

  /** Starts listening on loopback; port 0 picks a free one. */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => {
      void this.dispatch(req, res).catch((error: unknown) => {
        if (!res.headersSent) sendJson(res, { status: 500, body: { error: String(error) } });
        else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    this.server = server;
    const address = server.address() as AddressInfo;
    this.origin = `http://${host}:${address.port}`;
    return this.origin;
  }

  /** Stops the server and cuts open connections (hanging requests included). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private takeFault(routeName: string): Fault | undefined {
    const list = this.faults.get(routeName);
    const fault = list?.[0];
    if (!list || !fault) return undefined;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) list.shift();
    return fault;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = req.method ?? 'GET';
    const route = this.routes.find((r) => r.method === method && r.pattern.test(url.pathname));
    if (!route) {
      sendJson(res, { status: 404, body: { error: 'not_found', path: url.pathname } });
      return;
    }
    this.calls[route.name] = (this.calls[route.name] ?? 0) + 1;
    this.requests.push({ route: route.name, method, url: req.url ?? '/' });
    const body = await readBody(req);
    const fault = this.takeFault(route.name);
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.hang) return;
    if (fault?.reset) {
      req.socket.destroy();
      return;
    }
    if (fault?.status) {
      sendJson(res, { status: fault.status, body: fault.body, headers: fault.headers });
      return;
    }
    const match = route.pattern.exec(url.pathname) ?? [];
    const params = match.slice(1).map((p) => decodeURIComponent(p ?? ''));
    const answer = await route.handler({
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      params,
      url: req.url ?? '/',
    });
    sendJson(res, answer);
  }
}

/** Writes a simulator response; objects are sent as JSON. */
export function sendJson(res: ServerResponse, answer: SimResponse): void {
  const headers: Record<string, string> = { ...answer.headers };
  let payload = '';
  if (answer.body !== undefined) {
    payload = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json; charset=utf-8';
    }
  }
  res.writeHead(answer.status, headers);
  res.end(payload);
}
