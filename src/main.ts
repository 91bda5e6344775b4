import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from './config.js';
import { createGateway } from './gateway.js';
import { createLogger } from './logger.js';

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
gateway.server.listen(config.port, config.host, () => {
  logger.info({ event: 'listening', host: config.host, port: config.port }, `gateway listening on http://${config.host}:${config.port}/graphql`);
});
if (gateway.metricsServer && config.metricsPort !== undefined) {
  const port = config.metricsPort;
  gateway.metricsServer.listen(port, config.host, () => {
    logger.info({ event: 'metrics_listening', host: config.host, port }, `metrics on http://${config.host}:${port}/metrics`);
  });
}

// Graceful shutdown: stop accepting, let in-flight requests finish, then release connections.
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ event: 'shutdown', signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
