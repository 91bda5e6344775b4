import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { GraphiQLOptions as YogaGraphiQLOptions, Plugin } from 'graphql-yoga';
import { withoutCorsGrant } from './use-cors.js';

/** One editor tab of the GraphiQL page: its query, and JSON text for its Variables and Headers tabs. */
export interface GraphiQLTab {
  query: string;
  variables?: string;
  headers?: string;
}

/** What the GraphiQL page opens with. */
export interface GraphiQLPageOptions {
  title?: string;
  /** The query of the one tab the page opens with when there are no `tabs` (a tab the user adds starts empty). */
  defaultQuery?: string;
  /** JSON text for the Headers tab: of the opening tab without `tabs`, and of every tab the user adds. */
  headers?: string;
  /** The tabs the page opens with, the first one active; in place of one tab of `defaultQuery` and `headers`. */
  tabs?: GraphiQLTab[];
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
 * CORS grant (another site could otherwise read the token out of it), and keeps nothing in the
 * browser's storage (see `pageOptionsOf`): every load opens with the configured tabs and headers.
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

/**
 * What the page hands GraphiQL: yoga's options plus GraphiQL's own `storage`, which yoga passes
 * through. `null` is GraphiQL's "no storage at all" (leaving it out means localStorage).
 */
type PageOptions = YogaGraphiQLOptions & { endpoint: string; title: string; storage: null };

/**
 * The options written into the page, with GraphiQL's storage off. GraphiQL keeps its tabs
 * (queries, variables), history and theme in localStorage by default, per origin, and prefers
 * stored tabs to the configured ones: a reload, or any other GraphiQL once served on the same host
 * and port, would reopen on stale tabs whose headers were never stored (no token) in place of the
 * configured query and headers. Without storage every load opens as configured, and nothing typed
 * into the page stays in the browser.
 */
function pageOptionsOf({ endpoint, title = 'GraphiQL', defaultQuery, headers, tabs }: GraphiQLOptions): PageOptions {
  return {
    endpoint,
    title,
    ...(defaultQuery !== undefined ? { defaultQuery } : {}),
    ...(headers !== undefined ? { headers } : {}),
    ...(tabs !== undefined ? { defaultTabs: tabs.map(({ query, variables, headers: tabHeaders }) => ({ query, variables, headers: tabHeaders })) } : {}),
    storage: null,
    // Headers above all (they carry tokens): never persisted, whatever storage GraphiQL would use.
    shouldPersistHeaders: false,
  };
}

/**
 * Runs in the page before GraphiQL starts. Yoga's GraphiQL mirrors the edited query into the
 * address bar (`?query=`) and opens a later load on it, in the first tab whichever tab it came
 * from (after a reload, the second tab's query under the first tab's headers). Dropping it makes
 * every load open as configured, and no link can put a query in front of a token the page holds.
 */
const DROP_QUERY_FROM_URL =
  "(function () { var url = new URL(location.href); if (url.searchParams.has('query')) { url.searchParams.delete('query'); history.replaceState(history.state, '', url.href); } })();\n";

/** Renders the page once, makes the embedded options safe inside its script, and derives its CSP. */
function renderPage(render: Renderer, options: GraphiQLOptions): RenderedPage {
  const pageOptions = pageOptionsOf(options);
  const { title } = pageOptions;
  let html = render(pageOptions);

  // The renderer writes the title into <title> and the options as JSON into the inline script,
  // both unescaped: a `<` in either (`</script>` in a default query, say) would end the element.
  html = html.replace(`<title>${title}</title>`, () => `<title>${escapeHtml(title)}</title>`);
  const json = JSON.stringify(pageOptions);
  const at = html.lastIndexOf(json);
  if (at < 0) throw new Error('GraphiQL page: the rendered options were not found in the page');
  html = html.slice(0, at) + scriptSafeJson(json) + html.slice(at + json.length);
  const start = html.lastIndexOf('YogaGraphiQL.renderYogaGraphiQL(');
  if (start < 0) throw new Error('GraphiQL page: the call that starts GraphiQL was not found');
  html = html.slice(0, start) + DROP_QUERY_FROM_URL + html.slice(start);

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
