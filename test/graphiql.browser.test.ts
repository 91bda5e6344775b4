import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_PARTNER_VARIABLES, demoEnv, demoGraphiQL, issueDemoTokens } from '../sandbox/demo-options.js';
import { SEED_USERS, startSandbox, type Sandbox } from '../sandbox/index.js';
import { runGateway, type RunningGateway } from './helpers/harness.js';

// GraphiQL as `npm run demo` serves it, in a real headless Chromium: the page loads nothing from any
// host but the gateway, opens on the demo's two tabs (Ada's query and token, the partner query and
// token), runs both, and opens the same way again after a reload. Screenshots of what a user sees go
// to test/artifacts/. Without Chromium the file is skipped (CI installs Debian's `chromium`).

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`graphiql.browser.test.ts skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
}

const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
/** How long the page may take for one step: the ~9 MB page parses in a few seconds on a slow machine. */
const PAGE_TIMEOUT = 30_000;

const QUERY_EDITOR = '.graphiql-query-editor .view-lines';
const RESPONSE = '.graphiql-response .view-lines';

let sandbox: Sandbox;
let gateway: RunningGateway;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Requests the page tried to make to anything but the loopback gateway, aborted. */
const blocked: string[] = [];
/** Requests to the gateway the route let through: proof that the route saw the page's traffic. */
let allowed = 0;
/** Content-Security-Policy violations Chromium reported: the policy must allow everything the page does. */
const cspViolations: string[] = [];
const pageErrors: string[] = [];

describe.skipIf(!hasChromium)('GraphiQL of the demo in Chromium', () => {
  beforeAll(async () => {
    sandbox = await startSandbox();
    const tokens = await issueDemoTokens(sandbox.tenant);
    // The demo's own environment and page options; only the port differs (any free one).
    gateway = await runGateway(demoEnv(sandbox.env, { PORT: '0' }), { graphiql: demoGraphiQL(tokens) });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    // Every request of the context's pages: only the gateway on loopback may answer.
    await context.route('**/*', (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === '127.0.0.1' || hostname === 'localhost') {
        allowed += 1;
        return route.continue();
      }
      blocked.push(route.request().url());
      return route.abort('blockedbyclient');
    });
    page = await context.newPage();
    page.setDefaultTimeout(PAGE_TIMEOUT);
    page.on('console', (message) => {
      if (/content security policy/i.test(message.text())) cspViolations.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await mkdir(ARTIFACTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await sandbox?.close();
  });

  it('opens on the demo query with Ada’s token, runs it and shows her data', { timeout: 60_000 }, async () => {
    await page.goto(gateway.url);
    await editorShows('query Me {');
    expect(await tabTitles()).toEqual(['Me', 'Partner']);

    const answer = await run();
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ data: { me: { id: SEED_USERS.ada, email: 'ada@example.com' } } });
    expect(answer.body).not.toHaveProperty('errors');
    await responseShows('"email": "ada@example.com"');

    await screenshot('graphiql-demo.png');
  });

  it('has the partner query with the partner token in its second tab', { timeout: 60_000 }, async () => {
    await page.locator('.graphiql-tab', { hasText: 'Partner' }).click();
    await editorShows('query Partner($ids: [ID!]!)');

    const answer = await run();
    expect(answer.status).toBe(200);
    const users = (answer.body as { data: { users: ({ id: string; email: string } | null)[] } }).data.users;
    expect(users.map((user) => user?.id ?? null)).toEqual(DEMO_PARTNER_VARIABLES.ids.map((id) => (id === 'auth0|nobody' ? null : id)));
    expect(users[1]).toMatchObject({ id: SEED_USERS.grace, email: 'grace@example.com' });
    await responseShows('"email": "grace@example.com"');

    await screenshot('graphiql-demo-partner.png');
  });

  it('opens on the same tabs after a reload, with nothing kept in the browser’s storage', { timeout: 60_000 }, async () => {
    await page.reload();
    await editorShows('query Me {');
    expect(await tabTitles()).toEqual(['Me', 'Partner']);
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length])).toEqual([0, 0]);
    // The token of the first tab is still there: the query runs as Ada.
    const answer = await run();
    expect(answer.body).toMatchObject({ data: { me: { id: SEED_USERS.ada } } });
  });

  it('loaded nothing from another host, and broke no rule of its Content-Security-Policy', () => {
    expect(allowed).toBeGreaterThan(3); // two page loads, introspection, the queries
    expect(blocked).toEqual([]);
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

/** Waits until the element at `selector` shows `text` (Monaco writes spaces as U+00A0). */
async function paneShows(selector: string, text: string): Promise<void> {
  await page.waitForFunction(
    ({ selector, wanted }) =>
      document
        .querySelector(selector)
        ?.textContent?.replace(/\u00a0/g, ' ')
        .includes(wanted) ?? false,
    { selector, wanted: text },
  );
}

/** Waits until the query editor shows `text`. */
const editorShows = (text: string) => paneShows(QUERY_EDITOR, text);

/** Waits until the result pane shows `text`. */
const responseShows = (text: string) => paneShows(RESPONSE, text);

/** Saves what a user sees into test/artifacts/, once the editors' scrollbars (shown on use) have faded. */
async function screenshot(name: string): Promise<void> {
  await page.mouse.move(1, 1);
  // Cosmetic only: a screenshot with a scrollbar still showing is fine too.
  await page
    .waitForFunction(() => document.querySelector('.graphiql-container .scrollbar.visible') === null, undefined, { timeout: 5_000 })
    .catch(() => undefined);
  await page.screenshot({ path: `${ARTIFACTS}${name}` });
}

/** The titles of GraphiQL's editor tabs, in order. */
async function tabTitles(): Promise<string[]> {
  return (await page.locator('.graphiql-tab').allInnerTexts()).map((title) => title.trim());
}

/** Presses the run button and returns the gateway's answer to the query it sent. */
async function run(): Promise<{ status: number; body: unknown }> {
  const [response] = await Promise.all([
    page.waitForResponse(
      (candidate) =>
        candidate.request().method() === 'POST' &&
        new URL(candidate.url()).pathname === '/graphql' &&
        !candidate.request().postData()?.includes('IntrospectionQuery'),
    ),
    page.locator('.graphiql-execute-button').click(),
  ]);
  return { status: response.status(), body: await response.json() };
}
