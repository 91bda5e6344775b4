import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.js';

/** A debug-level logger whose JSON lines are collected, parsed, in `lines`. */
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
