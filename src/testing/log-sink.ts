import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../logger.js';

/**
 * Test support, never part of the build: a logger at `debug` whose lines are kept parsed in
 * `lines`, so a test can assert what an operator would read (event, level, message, and that no
 * secret is in it).
 */
export function logSink(): { lines: Record<string, unknown>[]; logger: Logger } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger('debug', sink) };
}
