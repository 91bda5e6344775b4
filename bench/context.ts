import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SEED_USERS, startSandbox, type Sandbox } from '../sandbox/index.js';
import type { LoadSummary } from './load.js';
import type { BenchOptions } from './options.js';
import { freePort, memoryOf, runToEnd, startChild, waitForHttp, type Child } from './processes.js';
import { startRedis, type PrivateRedis } from './redis.js';

/**
 * What the scenarios share during one run: the sandbox (simulated Auth0 tenant and providers, in
 * this process so its call counters can be read), a private Redis, the compiled gateway, the
 * baseline proxy, and the gateway processes, each started once on first use and stopped at the end.
 *
 * The gateway runs as `npm start` runs it, `node dist/main.js` in a process of its own, configured
 * by environment variables only; so does the baseline (through tsx). The load generator and the
 * fakes share this process, the same for both sides.
 */

/** A server under test, listening on loopback. */
export interface RunningServer {
  name: string;
  /** The GraphQL endpoint (`/graphql`). */
  url: string;
  origin: string;
  child: Child;
  /** RSS of its process now, bytes (NaN when unreadable). */
  rss(): number;
  stop(): Promise<void>;
  /** For a gateway: the node flags it was started with. */
  nodeArgs?: string[];
}

/** Figures one scenario leaves for a later one (b reports next to a). */
export interface SharedFigures {
  a?: Map<string, LoadSummary>;
}

export class BenchContext {
  readonly logDir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
  readonly figures: SharedFigures = {};
  /** Version of the private redis-server, once it runs. */
  redisVersion: string | undefined;
  private redisServer: Promise<PrivateRedis> | undefined;
  private built: Promise<void> | undefined;
  private baselineServer: Promise<RunningServer> | undefined;
  private readonly gateways = new Map<string, Promise<RunningServer>>();
  private readonly stoppables: (() => Promise<void>)[] = [];

  private constructor(
    readonly options: BenchOptions,
    readonly root: string,
    readonly sandbox: Sandbox,
    /** Ada's caller token (she signed in with Google and linked Facebook and Bitbucket). */
    readonly adaToken: string,
  ) {}

  static async create(options: BenchOptions, root: string): Promise<BenchContext> {
    const sandbox = await startSandbox();
    const adaToken = await sandbox.tenant.issueAccessToken({ sub: SEED_USERS.ada, scope: 'openid' });
    return new BenchContext(options, root, sandbox, adaToken);
  }

  /** Adds `ms` to every provider API call (a), (b) and (f) make; 0 removes it. Token endpoints stay undelayed. */
  setProviderLatency(ms: number): void {
    const { google, facebook, bitbucket } = this.sandbox;
    for (const fake of [google, facebook, bitbucket]) fake.clearFaults();
    if (ms <= 0) return;
    const delay = { delayMs: ms, times: 1_000_000_000 };
    google.injectFault('userinfo', delay);
    facebook.injectFault('me', delay);
    bitbucket.injectFault('user', delay);
  }

  /** The private redis-server of this run (started on first use). */
  redis(): Promise<PrivateRedis> {
    this.redisServer ??= startRedis().then((server) => {
      this.redisVersion = server.version;
      this.stoppables.push(() => server.stop());
      return server;
    });
    return this.redisServer;
  }

  /** Environment of a gateway on the private Redis, with its own key prefix unless one is given. */
  async redisEnv(prefix = `bench:${randomUUID()}:`, key = randomBytes(32).toString('base64')): Promise<Record<string, string>> {
    const redis = await this.redis();
    return { REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, TOKEN_ENCRYPTION_KEY: key };
  }

  /** How dist/ came to be, for the report. */
  buildInfo = 'not built (no gateway scenario ran)';

  /**
   * Compiles src/ to dist/ as `npm start` does (once per run; BENCH_SKIP_BUILD=1 skips it). When the
   * compile fails (src/ is mid-edit) but a dist/ exists, the run goes on with it and the report says so.
   */
  build(): Promise<void> {
    this.built ??= (async () => {
      const main = join(this.root, 'dist', 'main.js');
      if (this.options.skipBuild) {
        this.buildInfo = 'BENCH_SKIP_BUILD=1: the existing dist/ was used';
      } else {
        const started = performance.now();
        try {
          const tsc = join(this.root, 'node_modules', 'typescript', 'bin', 'tsc');
          await runToEnd(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: this.root, timeoutMs: 180_000 });
          this.buildInfo = `\`tsc -p tsconfig.build.json\` (${((performance.now() - started) / 1000).toFixed(0)} s)`;
        } catch (error) {
          if (!existsSync(main)) throw error;
          const first = (error instanceof Error ? error.message : String(error)).split('\n').slice(1, 3).join(' ').trim();
          this.buildInfo = `**the build failed, the existing dist/ was used (it may not match src/)**: ${first}`;
        }
      }
      if (!existsSync(main)) throw new Error('dist/main.js is missing: run `npm run build`');
    })();
    return this.built;
  }

  /**
   * Starts a gateway process: `node dist/main.js` with the sandbox's variables plus `env`, in a
   * directory of its own (so no .env is picked up), and waits until /readyz answers 200.
   */
  async startGateway(name: string, env: Record<string, string>, nodeArgs = this.gatewayNodeArgs()): Promise<RunningServer> {
    await this.build();
    const port = await freePort();
    const cwd = mkdtempSync(join(this.logDir, `${name}-`));
    const child = startChild(
      name,
      process.execPath,
      [...nodeArgs, join(this.root, 'dist', 'main.js')],
      { ...this.sandbox.env, PORT: String(port), HOST: '127.0.0.1', ...env },
      this.logDir,
      cwd,
    );
    return { ...(await this.watch(name, child, `http://127.0.0.1:${port}`, '/readyz')), nodeArgs };
  }

  /**
   * The node flags of `npm start` (package.json's start script, e.g. its V8 heap flags), so the
   * gateway runs as users run it; BENCH_GATEWAY_NODE_ARGS replaces them (empty: none) to compare.
   */
  gatewayNodeArgs(): string[] {
    const override = process.env.BENCH_GATEWAY_NODE_ARGS;
    if (override !== undefined) return override.split(' ').filter(Boolean);
    return startScriptNodeArgs(this.root);
  }

  /** A gateway started once and kept for the rest of the run (scenarios a, b and e share them). */
  sharedGateway(name: string, env: () => Promise<Record<string, string>> | Record<string, string>): Promise<RunningServer> {
    let started = this.gateways.get(name);
    if (!started) {
      started = Promise.resolve(env()).then((vars) => this.startGateway(name, vars));
      this.gateways.set(name, started);
    }
    return started;
  }

  /** The baseline proxy (bench/baseline-proxy.ts) in a process of its own, started once. */
  baseline(): Promise<RunningServer> {
    this.baselineServer ??= (async () => {
      const { tenant, google, users } = this.sandbox;
      if (!users) throw new Error('the sandbox is not seeded');
      const tokens = {
        [SEED_USERS.ada]: users.tokens.ada.google.access_token,
        [SEED_USERS.grace]: users.tokens.grace.google.access_token,
      };
      const port = await freePort();
      const child = startChild(
        'baseline',
        process.execPath,
        ['--import', 'tsx', join(this.root, 'bench', 'baseline-proxy.ts')],
        {
          BASELINE_PORT: String(port),
          BASELINE_ISSUER: tenant.issuer,
          BASELINE_AUDIENCE: tenant.audience,
          BASELINE_JWKS_URL: `${tenant.origin}/.well-known/jwks.json`,
          BASELINE_GOOGLE_API_URL: google.origin,
          BASELINE_GOOGLE_TOKENS: JSON.stringify(tokens),
        },
        this.logDir,
        this.root,
      );
      return this.watch('baseline', child, `http://127.0.0.1:${port}`, '/healthz');
    })();
    return this.baselineServer;
  }

  private async watch(name: string, child: Child, origin: string, readyPath: string): Promise<RunningServer> {
    const stop = () => child.stop();
    this.stoppables.push(stop);
    await waitForHttp(child, `${origin}${readyPath}`, 30_000);
    return { name, url: `${origin}/graphql`, origin, child, rss: () => memoryOf(child.pid)?.rss ?? Number.NaN, stop };
  }

  /** Registers something to stop at the end of the run (last registered, first stopped). */
  onClose(stop: () => Promise<void>): void {
    this.stoppables.push(stop);
  }

  async close(): Promise<void> {
    for (const stop of this.stoppables.reverse()) await stop().catch(() => {});
    await this.sandbox.close();
    rmSync(this.logDir, { recursive: true, force: true });
  }
}

/** The flags between `node` and `dist/main.js` in package.json's start script. */
export function startScriptNodeArgs(root: string): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const words = (pkg.scripts.start ?? '').split(/\s+/).filter(Boolean);
  if (words[0] !== 'node' || words.at(-1) !== 'dist/main.js') throw new Error(`package.json: start is not "node [flags] dist/main.js": ${pkg.scripts.start}`);
  return words.slice(1, -1);
}
