import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { GraphiQLOptions as YogaGraphiQLOptions, Plugin } from 'graphql-yoga';
import { withoutCorsGrant } from './use-cors.js';

/** What the GraphiQL page opens with. */
export interface GraphiQLPageOptions {
  title?: string;
  /** The query in the editor when the page opens. */
  defaultQuery?: string;
  /** JSON text for the Headers tab (the demo pre-fills a caller token). */
  headers?: string;
}

/** Options of useGraphiQL. */
export interface GraphiQLOptions extends GraphiQLPageOptions {
  /** The GraphQL endpoint path, e.g. `/graphql`. */
  endpoint: string;
}

/** The page, rendered once. */
interface RenderedPage {
  html: Bytes;
  /** The same bytes gzip'd; undefined if compression failed (the page is then served plain). */
  gzipped: Promise<Bytes | undefined>;
  /** The Content-Security-Policy of the page (it carries the hash of the page's one inline script). */
  csp: string;
}

const gzipAsync = promisify(gzip);

/** Bytes a Response body takes as they are. */
type Bytes = Uint8Array<ArrayBuffer>;

/**
 * Serves GraphiQL on a browser `GET <endpoint>` (GET with `Accept` including `text/html`, yoga's
 * own rule), before caller auth: the page itself needs no token, the queries it sends do.
 *
 * In place of yoga's GraphiQL, which loads its scripts from a CDN without integrity checks on a
 * page where people paste tokens, the page comes from `@graphql-yoga/render-graphiql`: every
 * script, style sheet, font, image and web worker (blob: URLs) is inlined, so not one byte comes
 * from another host, and its Content-Security-Policy forbids any load from another host anyway.
 *
 * The page is ~9 MB. It is rendered once (the package is imported only when GraphiQL is on),
 * kept as bytes, and gzip'd once in the background (libuv's pool, off the event loop); building it
 * per request would hand anyone who can reach the endpoint, without a token, a cheap way to burn
 * CPU and memory. A request that arrives while the one-time compression still runs and accepts
 * gzip waits for it (a few hundred milliseconds, once per process).
 *
 * The page is `Cache-Control: no-store` (the demo's page carries a caller token), never carries a
 * CORS grant (another site could otherwise read the token out of it), and headers typed into it
 * are not persisted in the browser's storage (`shouldPersistHeaders: false`).
 */
export function useGraphiQL(options: GraphiQLOptions): Plugin {
  const { endpoint } = options;
  const page = import('@graphql-yoga/render-graphiql').then(({ renderGraphiQL }) => renderPage(renderGraphiQL, options));
  // A failure surfaces on the requests that need the page; it must not be an unhandled rejection.
  page.catch(() => undefined);

  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'GET' || !request.headers.get('accept')?.includes('text/html')) return;
      if (url.pathname !== endpoint && url.pathname !== `${endpoint}/`) return;
      const { html, gzipped, csp } = await page;
      const compressed = acceptsGzip(request.headers.get('accept-encoding')) ? await gzipped : undefined;
      const body = compressed ?? html;
      const headers: Record<string, string> = {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': String(body.byteLength),
        'Content-Security-Policy': csp,
        'Referrer-Policy': 'no-referrer',
        'X-Content-Type-Options': 'nosniff',
        'X-Frame-Options': 'DENY',
        'Cache-Control': 'no-store',
        // No other site may embed the page's bytes or keep a handle on its window.
        'Cross-Origin-Resource-Policy': 'same-origin',
        'Cross-Origin-Opener-Policy': 'same-origin',
        // The same URL answers GraphQL to other Accept headers, and plain or gzip'd bytes.
        Vary: 'Accept, Accept-Encoding',
      };
      if (compressed) headers['Content-Encoding'] = 'gzip';
      // Never readable cross-origin, even with CORS_ORIGINS=*: the page can carry a caller token.
      endResponse(withoutCorsGrant(new fetchAPI.Response(body, { status: 200, headers })));
    },
  };
}

type Renderer = (options: YogaGraphiQLOptions) => string;

/** Renders the page once, makes the embedded options safe inside its script, and derives its CSP. */
function renderPage(render: Renderer, { endpoint, title = 'GraphiQL', defaultQuery, headers }: GraphiQLOptions): RenderedPage {
  const pageOptions: YogaGraphiQLOptions & { endpoint: string } = {
    endpoint,
    title,
    ...(defaultQuery !== undefined ? { defaultQuery } : {}),
    ...(headers !== undefined ? { headers } : {}),
    // Tokens typed or pre-filled into the Headers tab stay out of localStorage.
    shouldPersistHeaders: false,
  };
  let html = render(pageOptions);

  // The renderer writes the title into <title> and the options as JSON into the inline script,
  // both unescaped: a `<` in either (`</script>` in a default query, say) would end the element.
  html = html.replace(`<title>${title}</title>`, () => `<title>${escapeHtml(title)}</title>`);
  const json = JSON.stringify(pageOptions);
  const at = html.lastIndexOf(json);
  if (at < 0) throw new Error('GraphiQL page: the rendered options were not found in the page');
  html = html.slice(0, at) + scriptSafeJson(json) + html.slice(at + json.length);

  // The page has exactly one inline script; allowing its hash (rather than 'unsafe-inline') means
  // that nothing injected into the page, by a default query or otherwise, can run as a script.
  const open = html.indexOf('<script>');
  const close = html.lastIndexOf('</script>');
  if (open < 0 || close < open) throw new Error('GraphiQL page: no inline script found');
  const script = html.slice(open + '<script>'.length, close);
  const scriptHash = createHash('sha256').update(script, 'utf8').digest('base64');

  const bytes: Bytes = new TextEncoder().encode(html);
  const gzipped = gzipAsync(bytes).then(
    (compressed): Bytes => new Uint8Array(compressed),
    () => undefined,
  );
  return { html: bytes, gzipped, csp: contentSecurityPolicy(scriptHash) };
}

/**
 * The page's Content-Security-Policy: nothing from any host, its own origin included, except the
 * GraphQL requests it makes. Each source is what the self-contained page needs:
 *
 * - `default-src 'none'`: everything not listed below is refused (frames, objects, media,
 *   manifests, prefetches).
 * - `script-src 'sha256-…'`: the page's one inline script (GraphiQL, React, Monaco), by hash.
 * - `worker-src blob:`: Monaco's editor, JSON and GraphQL language workers are created from blob:
 *   URLs of code inlined in the page.
 * - `style-src 'unsafe-inline'`: the inline style sheet, and the <style> elements and style
 *   attributes React and Monaco create at run time (a hash cannot cover those).
 * - `img-src data:` and `font-src data:`: the favicon, icons and fonts are data: URLs inlined in
 *   the page and its style sheet.
 * - `connect-src 'self'`: GraphiQL's fetch of the endpoint (introspection and queries).
 * - `base-uri 'none'`, `form-action 'none'`: no <base> can redirect relative URLs and no form
 *   can post anywhere (neither falls back to default-src).
 * - `frame-ancestors 'none'`: no other site may frame the page (clickjacking; with a token in it).
 */
function contentSecurityPolicy(scriptHash: string): string {
  return [
    "default-src 'none'",
    `script-src 'sha256-${scriptHash}'`,
    'worker-src blob:',
    "style-src 'unsafe-inline'",
    'img-src data:',
    'font-src data:',
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Whether an Accept-Encoding header accepts gzip (explicitly or through `*`) with a non-zero q. */
function acceptsGzip(header: string | null): boolean {
  if (!header) return false;
  let gzipQ: number | undefined;
  let anyQ: number | undefined;
  for (const part of header.split(',')) {
    const [coding = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const qParam = params.find((param) => param.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (coding === 'gzip' || coding === 'x-gzip') gzipQ = q;
    else if (coding === '*') anyQ = q;
  }
  const q = gzipQ ?? anyQ ?? 0;
  return Number.isFinite(q) && q > 0;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** JSON that cannot end or comment out the <script> element it is written into. */
function scriptSafeJson(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
