import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PARTNER_QUERY, DEMO_PARTNER_VARIABLES, DEMO_USER_QUERY, demoGraphiQL } from '../sandbox/demo-options.js';
import { SEED_USERS } from '../sandbox/index.js';
import { startHarness, type Harness, type RunningGateway } from './helpers/harness.js';

// GRAPHIQL (src/plugins/use-graphiql.ts): off by default; when on, a browser GET /graphql gets a
// self-contained GraphiQL page (every script, style, font and worker inlined, nothing from another
// host) without a caller token, under a CSP that forbids third-party loads, rendered once.

const ADA = SEED_USERS.ada;
/** What a browser sends when it navigates to a URL. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

let h: Harness;
/** GRAPHIQL unset (the `npm start` default). */
let off: RunningGateway;
/** GRAPHIQL=false, explicitly. */
let offExplicit: RunningGateway;
/** GRAPHIQL=true with a default query and headers. */
let on: RunningGateway;
/** GRAPHIQL=true with the demo's page options (two tabs), with stand-in tokens. */
let demo: RunningGateway;

beforeAll(async () => {
  h = await startHarness({ redis: false });
  off = h.main;
  offExplicit = await h.startGateway({ GRAPHIQL: 'false' });
  on = await h.startGateway(
    { GRAPHIQL: 'true' },
    { graphiql: { title: 'Gateway under test', defaultQuery: '{ me { id } }', headers: JSON.stringify({ Authorization: 'Bearer page-token' }) } },
  );
  demo = await h.startGateway({ GRAPHIQL: 'true' }, { graphiql: demoGraphiQL({ user: 'user-token', partner: 'partner-token' }) });
});
afterAll(async () => h?.close());

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The bytes as sent (not decompressed). */
  body: Buffer;
  ms: number;
}

/** A GET over node:http, so that the test sees the bytes on the wire (fetch would gunzip them). */
function rawGet(url: string, headers: Record<string, string>): Promise<RawAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const browserGet = (gateway: RunningGateway, extra: Record<string, string> = {}) => rawGet(gateway.url, { accept: BROWSER_ACCEPT, ...extra });

function header(answer: RawAnswer, name: string): string {
  const value = answer.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The page, parsed into its markup (outside script and style elements), style sheets and scripts. */
function splitPage(html: string): { markup: string; styles: string[]; scripts: string[] } {
  const styles: string[] = [];
  const scripts: string[] = [];
  const markup = html
    .replace(/<script\b[^>]*>([\s\S]*?)<\/script\s*>/gi, (_tag, body: string) => {
      scripts.push(body);
      return '<script></script>';
    })
    .replace(/<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi, (_tag, body: string) => {
      styles.push(body);
      return '<style></style>';
    });
  return { markup, styles, scripts };
}

/** The options the page passes to GraphiQL, as the JSON text written into its script. */
function optionsJson(html: string): string {
  const call = 'YogaGraphiQL.renderYogaGraphiQL(';
  const match = /^\s*window\.document\.querySelector\('#root'\),\s*(\{.*\}),\s*\);/s.exec(html.slice(html.lastIndexOf(call) + call.length));
  expect(match, 'the GraphiQL options in the page').not.toBeNull();
  return match![1]!;
}

/** A URL that leaves the page's origin: absolute http(s), or protocol-relative. */
const OFF_ORIGIN = /^\s*['"]?\s*(?:https?:)?\/\//i;

describe('GRAPHIQL off (the default)', () => {
  it.each([
    ['unset', () => off],
    ['false', () => offExplicit],
  ])('GRAPHIQL %s: a browser GET /graphql without a token is a 401, not GraphiQL', async (_name, gateway) => {
    const answer = await browserGet(gateway());
    expect(answer.status).toBe(401);
    expect(header(answer, 'content-type')).not.toMatch(/text\/html/);
    expect(answer.body.toString('utf8')).not.toMatch(/graphiql/i);
    expect(answer.body.length).toBeLessThan(10_000);
  });

  it('a browser GET /graphql with a token is GraphQL over HTTP, not GraphiQL', async () => {
    const answer = await browserGet(off, { authorization: `Bearer ${await h.token(ADA)}` });
    expect(answer.status).toBeLessThan(500);
    expect(header(answer, 'content-type')).not.toMatch(/text\/html/);
    expect(answer.body.toString('utf8')).not.toMatch(/graphiql/i);
  });
});

describe('GRAPHIQL=true', () => {
  it('serves the GraphiQL page to a browser GET without a token', async () => {
    const answer = await browserGet(on);
    expect(answer.status).toBe(200);
    expect(header(answer, 'content-type')).toBe('text/html; charset=utf-8');
    expect(header(answer, 'content-encoding')).toBe('');
    const html = answer.body.toString('utf8');
    expect(html).toMatch(/^\s*<!doctype html>/i);
    expect(html).toContain('YogaGraphiQL.renderYogaGraphiQL');
    expect(html).toContain('<title>Gateway under test</title>');
    expect(Number(header(answer, 'content-length'))).toBe(answer.body.length);
  });

  it('also at /graphql/', async () => {
    const answer = await rawGet(`${on.url}/`, { accept: BROWSER_ACCEPT });
    expect(answer.status).toBe(200);
    expect(answer.body.toString('utf8')).toContain('YogaGraphiQL.renderYogaGraphiQL');
  });

  it('opens with the configured query and headers, and keeps nothing in the browser’s storage', async () => {
    const html = (await browserGet(on)).body.toString('utf8');
    const options = JSON.parse(optionsJson(html)) as Record<string, unknown>;
    expect(options).toMatchObject({
      endpoint: '/graphql',
      defaultQuery: '{ me { id } }',
      headers: JSON.stringify({ Authorization: 'Bearer page-token' }),
      // GraphiQL's "no storage": stored tabs would win over the configured ones, without their headers.
      storage: null,
      shouldPersistHeaders: false,
    });
    expect(options).not.toHaveProperty('defaultTabs');
  });

  it('drops a ?query= from the address bar before GraphiQL starts, so every load opens as configured', async () => {
    const [script] = splitPage((await browserGet(on)).body.toString('utf8')).scripts;
    const drop = script!.indexOf("url.searchParams.delete('query')");
    expect(drop).toBeGreaterThan(0);
    expect(drop).toBeLessThan(script!.lastIndexOf('YogaGraphiQL.renderYogaGraphiQL('));
  });

  it("the demo's page opens on two tabs: Ada's query with her token, the partner query with its ids and token", async () => {
    const options = JSON.parse(optionsJson((await browserGet(demo)).body.toString('utf8'))) as Record<string, unknown>;
    const bearer = (token: string) => JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2);
    expect(options).toMatchObject({
      title: 'IdP token gateway (sandbox)',
      // A tab the user adds gets Ada's token.
      headers: bearer('user-token'),
      defaultTabs: [
        { query: DEMO_USER_QUERY, headers: bearer('user-token') },
        { query: DEMO_PARTNER_QUERY, variables: JSON.stringify(DEMO_PARTNER_VARIABLES, null, 2), headers: bearer('partner-token') },
      ],
      storage: null,
    });
    expect(DEMO_USER_QUERY).toMatch(/^query Me \{$/m);
    expect(DEMO_PARTNER_QUERY).toMatch(/^query Partner\(\$ids: \[ID!\]!\) \{$/m);
    expect(DEMO_PARTNER_VARIABLES.ids).toContain(SEED_USERS.ada);
  });

  it('sends the security headers: CSP, no referrer, nosniff, no-store', async () => {
    const answer = await browserGet(on);
    expect(header(answer, 'content-security-policy')).toMatch(/default-src 'none'/);
    expect(header(answer, 'content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(header(answer, 'referrer-policy')).toBe('no-referrer');
    expect(header(answer, 'x-content-type-options')).toBe('nosniff');
    expect(header(answer, 'cache-control')).toBe('no-store');
  });

  it('has a CSP naming no host at all, not even with a scheme', async () => {
    const csp = header(await browserGet(on), 'content-security-policy');
    const directives = csp
      .split(';')
      .map((directive) => directive.trim())
      .filter(Boolean);
    expect(directives.length).toBeGreaterThan(3);
    for (const directive of directives) {
      const [name, ...sources] = directive.split(/\s+/);
      expect(name).toMatch(/^[a-z-]+$/);
      for (const source of sources) {
        // Keywords ('none', 'self', 'unsafe-inline', hashes) and the schemes blob: and data: only.
        expect(source, directive).toMatch(/^(?:'[a-z-]+'|'sha256-[A-Za-z0-9+/]+=*'|blob:|data:)$/);
        expect(source, directive).not.toMatch(/https?:|\*|\./);
      }
    }
    // No script may be injected: the one inline script is allowed by its hash, never 'unsafe-inline'.
    const scriptSrc = directives.find((directive) => directive.startsWith('script-src '));
    expect(scriptSrc).toMatch(/'sha256-/);
    expect(scriptSrc).not.toMatch(/unsafe-inline/);
  });

  it("allows exactly the page's inline script by hash", async () => {
    const answer = await browserGet(on);
    const { scripts } = splitPage(answer.body.toString('utf8'));
    expect(scripts).toHaveLength(1);
    const hash = createHash('sha256').update(scripts[0]!, 'utf8').digest('base64');
    expect(header(answer, 'content-security-policy')).toContain(`script-src 'sha256-${hash}'`);
  });

  it('loads nothing from another host: no off-origin src/href, @import or url()', async () => {
    const { markup, styles, scripts } = splitPage((await browserGet(on)).body.toString('utf8'));

    // Markup: every URL-valued attribute of every tag is inline (data:) or same-origin.
    const urls = [...markup.matchAll(/<[a-z][a-z0-9-]*\b[^<>]*>/gi)].flatMap(([tag]) =>
      [...tag.matchAll(/\s(?:src|href|srcset|action|formaction|poster|data|background|ping)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi)].map((m) => m[1]!),
    );
    expect(urls.length).toBeGreaterThan(0); // the favicon
    for (const url of urls) expect(url.slice(0, 60)).not.toMatch(OFF_ORIGIN);
    expect(markup).not.toMatch(/<script\b[^>]*\ssrc\s*=/i);
    expect(markup).not.toMatch(/<link\b[^>]*\srel\s*=\s*["']?stylesheet/i);

    // Style sheets: no @import, and every url() is a data: URL.
    expect(styles.length).toBeGreaterThan(0);
    for (const css of styles) {
      expect(css).not.toMatch(/@import\b/i);
      const refs = [...css.matchAll(/url\(\s*(['"]?)([^'")]*)/gi)].map((m) => m[2]!);
      expect(refs.length).toBeGreaterThan(0); // the inlined fonts
      for (const ref of refs) expect(ref.slice(0, 60)).toMatch(/^data:/);
    }

    // Scripts: the bundle builds its DOM itself; it must not write tags or style rules that load
    // from another host, nor name a CDN.
    for (const js of scripts) {
      expect(js).not.toMatch(/<script[^>]*\ssrc\s*=\s*\\?["']?(?:https?:)?\/\//i);
      expect(js).not.toMatch(/<link[^>]*\shref\s*=\s*\\?["']?(?:https?:)?\/\//i);
      expect(js).not.toMatch(/@import\s+(?:url\()?\s*\\?["']?(?:https?:)?\/\//i);
      expect(js).not.toMatch(/url\(\s*\\?["']?(?:https?:)?\/\//i);
      expect(js).not.toMatch(/unpkg\.com|jsdelivr\.net|cdnjs\.|fonts\.googleapis|fonts\.gstatic|esm\.sh|skypack/i);
    }
  });

  it("sends the page gzip'd to a client that accepts gzip, the same page once decompressed", async () => {
    const plain = await browserGet(on, { 'accept-encoding': 'identity' });
    const gzipped = await browserGet(on, { 'accept-encoding': 'gzip, deflate, br' });
    expect(gzipped.status).toBe(200);
    expect(header(gzipped, 'content-encoding')).toBe('gzip');
    expect(header(gzipped, 'vary').toLowerCase()).toContain('accept-encoding');
    expect(header(gzipped, 'content-security-policy')).toBe(header(plain, 'content-security-policy'));
    expect(Number(header(gzipped, 'content-length'))).toBe(gzipped.body.length);
    expect(gzipped.body.length).toBeLessThan(plain.body.length / 2);
    expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);
  });

  it.each([
    ['no Accept-Encoding', undefined],
    ['identity', 'identity'],
    ['gzip refused with q=0', 'gzip;q=0, identity'],
    ['only br', 'br'],
  ])('sends the page plain with %s', async (_name, acceptEncoding) => {
    const answer = await browserGet(on, acceptEncoding ? { 'accept-encoding': acceptEncoding } : {});
    expect(answer.status).toBe(200);
    expect(header(answer, 'content-encoding')).toBe('');
    expect(answer.body.toString('utf8')).toContain('YogaGraphiQL.renderYogaGraphiQL');
  });

  it('renders once: later requests get the same bytes, quickly', async () => {
    const first = await browserGet(on);
    const again = await Promise.all([browserGet(on), browserGet(on), browserGet(on)]);
    for (const answer of again) {
      expect(sha256(answer.body)).toBe(sha256(first.body));
      // Sending 9 MB over loopback; rendering and encoding it again would take several times as long.
      expect(answer.ms).toBeLessThan(2_000);
    }
    const zipped = await Promise.all([1, 2].map(() => browserGet(on, { 'accept-encoding': 'gzip' })));
    expect(sha256(zipped[0]!.body)).toBe(sha256(zipped[1]!.body));
  });

  it('escapes page options: a title, default query or tab cannot break out of their elements', async () => {
    const hostile = await h.startGateway(
      { GRAPHIQL: 'true' },
      {
        graphiql: {
          title: '</title><script>alert(1)</script>',
          defaultQuery: '# </script><script>alert(2)</script><!--\n{ me { id } }',
          headers: '{"x": "</SCRIPT>"}',
          tabs: [{ query: '# </script><script>alert(3)</script>\n{ me { id } }', variables: '{"y": "<!--"}', headers: '{"z": "</script>"}' }],
        },
      },
    );
    const answer = await browserGet(hostile);
    const html = answer.body.toString('utf8');
    // As many `<script` as the page always has (one tag, one string in the bundle) and one closing
    // tag: the options are inside the page's script, still data.
    const usual = (await browserGet(on)).body.toString('utf8');
    expect(html.match(/<script\b/gi)?.length).toBe(usual.match(/<script\b/gi)?.length);
    expect(html.match(/<\/script/gi)).toHaveLength(1);
    expect(html).toContain('<title>&#60;/title&#62;&#60;script&#62;alert(1)&#60;/script&#62;</title>');
    // No `<` or `>` is written raw into the script: no `</script>`, no `<!--`.
    const json = optionsJson(html);
    expect(json).not.toMatch(/[<>]/);
    const options = JSON.parse(json) as Record<string, unknown>;
    // The editor still opens with the text as given.
    expect(options.defaultQuery).toBe('# </script><script>alert(2)</script><!--\n{ me { id } }');
    expect(options.headers).toBe('{"x": "</SCRIPT>"}');
    expect(options.defaultTabs).toEqual([
      { query: '# </script><script>alert(3)</script>\n{ me { id } }', variables: '{"y": "<!--"}', headers: '{"z": "</script>"}' },
    ]);
  });

  it('is never readable cross-origin, even with CORS_ORIGINS=* or for a listed origin', async () => {
    // A GET with Accept: text/html is a simple request: any site could fetch the page, with the
    // caller token the demo puts in it, if the answer carried a grant.
    for (const cors of ['*', 'https://app.example.com']) {
      const gateway = await h.startGateway(
        { GRAPHIQL: 'true', CORS_ORIGINS: cors },
        { graphiql: { headers: JSON.stringify({ Authorization: 'Bearer page-token' }) } },
      );
      const answer = await browserGet(gateway, { origin: 'https://app.example.com' });
      expect(answer.status).toBe(200);
      expect(answer.body.toString('utf8')).toContain('page-token');
      expect(
        Object.keys(answer.headers).filter((name) => name.startsWith('access-control-')),
        cors,
      ).toEqual([]);
      expect(header(answer, 'cross-origin-resource-policy')).toBe('same-origin');
      // The API next to it keeps its grant.
      const api = await rawGet(gateway.url, { accept: 'application/json', origin: 'https://app.example.com' });
      expect(api.status).toBe(401);
      expect(header(api, 'access-control-allow-origin')).toBe(cors);
    }
  });

  it('leaves everything else to GraphQL: POST, GET with Accept: application/json, other paths', async () => {
    const token = await h.token(ADA);
    const post = await fetch(on.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(post.status).toBe(200);
    expect(await post.json()).toEqual({ data: { me: { id: ADA } } });

    const json = await rawGet(on.url, { accept: 'application/json' });
    expect(json.status).toBe(401);
    expect(header(json, 'content-type')).not.toMatch(/text\/html/);

    const health = await rawGet(new URL('/healthz', on.url).href, { accept: BROWSER_ACCEPT });
    expect(health.status).toBe(200);
    expect(health.body.toString('utf8')).not.toMatch(/graphiql/i);

    const other = await rawGet(new URL('/graphiql', on.url).href, { accept: BROWSER_ACCEPT });
    expect(other.status).toBe(404);
  });
});
