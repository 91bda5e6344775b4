import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { createRemoteJWKSet, jwtVerify } from 'jose';

/**
 * The baseline of `npm run bench`: the smallest hand-written proxy doing what the gateway does for
 * `{ me { google { profile { email } } } }`, minus everything generic. It verifies the caller's
 * RS256 token against the tenant's JWKS (jose, keys cached by createRemoteJWKSet), looks the
 * user's Google token up in a Map filled at start, calls Google's userinfo with `fetch`, and
 * answers the same JSON the gateway does. No GraphQL, no store, no renewal, no limits, no metrics.
 *
 * Run on its own (the benchmark does, in a child process, as the gateway runs in its own):
 *   BASELINE_PORT=4500 BASELINE_ISSUER=… BASELINE_AUDIENCE=… BASELINE_JWKS_URL=… \
 *   BASELINE_GOOGLE_API_URL=… BASELINE_GOOGLE_TOKENS='{"<sub>":"<google access token>"}' \
 *   node --import tsx bench/baseline-proxy.ts
 */

/** What the baseline needs to know. */
export interface BaselineOptions {
  /** The tenant's `iss`, with its trailing slash. */
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** Origin of the Google API (`GOOGLE_API_URL`). */
  googleApiUrl: string;
  /** Google access token by Auth0 user id (`sub`). */
  googleTokens: Map<string, string>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _chunk of req) {
    // The body (the GraphQL document) is not needed; reading it keeps the connection reusable.
  }
}

/** The request handler: verify, look up, call Google, answer. */
export function baselineHandler(options: BaselineOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl));
  const userinfoUrl = `${options.googleApiUrl}/oauth2/v3/userinfo`;
  return async (req, res) => {
    if (req.url === '/healthz') {
      await drain(req);
      send(res, 200, { ok: true });
      return;
    }
    const header = req.headers.authorization ?? '';
    await drain(req);
    if (!header.startsWith('Bearer ')) {
      send(res, 401, { errors: [{ message: 'missing bearer token' }] });
      return;
    }
    let sub: string | undefined;
    try {
      const { payload } = await jwtVerify(header.slice(7), jwks, { issuer: options.issuer, audience: options.audience, algorithms: ['RS256'] });
      sub = payload.sub;
    } catch {
      send(res, 401, { errors: [{ message: 'invalid token' }] });
      return;
    }
    const googleToken = sub === undefined ? undefined : options.googleTokens.get(sub);
    if (!googleToken) {
      send(res, 200, { data: { me: { google: null } } });
      return;
    }
    const upstream = await fetch(userinfoUrl, { headers: { authorization: `Bearer ${googleToken}` }, signal: AbortSignal.timeout(10_000) });
    if (!upstream.ok) {
      await upstream.arrayBuffer();
      send(res, 502, { errors: [{ message: `google answered ${upstream.status}` }] });
      return;
    }
    const profile = (await upstream.json()) as { email?: string };
    send(res, 200, { data: { me: { google: { profile: { email: profile.email ?? null } } } } });
  };
}

/** Starts the baseline on loopback; port 0 picks a free one. */
export async function startBaselineProxy(options: BaselineOptions, port = 0): Promise<{ server: Server; url: string }> {
  const handler = baselineHandler(options);
  const server = createServer((req, res) => {
    handler(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 502, { errors: [{ message: String(error) }] });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql` };
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

// Started as a program (by the benchmark, in its own process): read the environment and listen.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const tokens = JSON.parse(required('BASELINE_GOOGLE_TOKENS')) as Record<string, string>;
  const { server, url } = await startBaselineProxy(
    {
      issuer: required('BASELINE_ISSUER'),
      audience: required('BASELINE_AUDIENCE'),
      jwksUrl: required('BASELINE_JWKS_URL'),
      googleApiUrl: required('BASELINE_GOOGLE_API_URL'),
      googleTokens: new Map(Object.entries(tokens)),
    },
    Number(process.env.BASELINE_PORT ?? 0),
  );
  console.log(`baseline proxy listening on ${url}`);
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
