import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from './config.js';
import { createGateway } from './gateway.js';
import { createLogger } from './logger.js';
import { describeStore } from './store/describe.js';

/**
 * `npm start`: the gateway from environment variables (and `.env` in the working directory).
 * An incomplete configuration stops here with one message naming every bad variable.
 */
if (existsSync('.env')) process.loadEnvFile('.env');

let config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}

const logger = createLogger(config.logLevel);
const gateway = createGateway(config, { logger });
// The port may be in use or privileged: one line saying so, not a stack trace.
gateway.server.once('error', (error: NodeJS.ErrnoException) => {
  logger.fatal(
    { event: 'listen_failed', host: config.host, port: config.port, code: error.code },
    `cannot listen on ${config.host}:${config.port}: ${error.message}`,
  );
  process.exit(1);
});
// One line saying where the gateway listens, which store it uses and which tenant it serves;
// whether that tenant is usable follows (/readyz, and a line of its own if it is not).
gateway.server.listen(config.port, config.host, () => {
  const { port } = gateway.server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}/graphql`;
  const store = describeStore(config.redis);
  const tenant = config.auth0.origin;
  logger.info({ event: 'listening', host: config.host, port, url, store, tenant }, `gateway listening on ${url}; store: ${store}; tenant: ${tenant}`);
});
if (gateway.metricsServer && config.metricsPort !== undefined) {
  const port = config.metricsPort;
  gateway.metricsServer.listen(port, config.host, () => {
    logger.info({ event: 'metrics_listening', host: config.host, port }, `metrics on http://${config.host}:${port}/metrics`);
  });
}

/**
 * Graceful shutdown on SIGTERM or SIGINT: the gateway drains (`/readyz` turns 503 at once, every
 * response closes its connection, idle connections are closed, new connections are still served
 * one request each while the load balancer catches up), then stops listening and releases its
 * store and background timers. Exit code 0 once nothing is in flight; 1 when SHUTDOWN_TIMEOUT_MS
 * passes first (the log line says how many requests that cut off) or the shutdown itself fails.
 * A second signal changes nothing.
 */
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    const started = Date.now();
    const inFlight = gateway.inFlight;
    logger.info({ event: 'shutdown', signal, inFlight }, `${signal}: draining, ${inFlight} requests in flight`);
    const force = setTimeout(() => {
      const cutOff = gateway.inFlight;
      logger.error(
        { event: 'shutdown_forced', cutOff, timeoutMs: config.shutdownTimeoutMs },
        `shutdown did not finish within ${config.shutdownTimeoutMs} ms: ${cutOff} requests cut off`,
      );
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    void gateway
      .drain()
      .then(() => gateway.close())
      .then(
        () => {
          logger.info({ event: 'shutdown_complete', drainMs: Date.now() - started }, `drained and closed in ${Date.now() - started} ms`);
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ event: 'shutdown_failed', err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  });
}
