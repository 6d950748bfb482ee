// The services' log: pino JSON lines (through nestjs-pino's Nest adapter) in production and when piped,
// Nest's readable lines in an interactive terminal. Either way, a line written while a request or message is
// handled names its correlation id.
import { ConsoleLogger, type LoggerService, type LogLevel } from '@nestjs/common';
import { Logger, PinoLogger } from 'nestjs-pino';
import { pino, type DestinationStream, type Level } from 'pino';
import { correlationId } from './correlation';

/**
 * A pino logger writing JSON lines to `destination`, each with the correlation id of what is being handled
 * (when something is). A field the caller logs under the same name wins: it holds the same id.
 */
export function jsonLogger(level: Level, destination: DestinationStream): pino.Logger {
  return pino(
    {
      level,
      // `time` stays pino's milliseconds since the epoch (as before pino): an ISO time cost 1 us more a line.
      base: { pid: process.pid },
      formatters: { level: (label) => ({ level: label }) },
      mixin: () => {
        const id = correlationId();
        return id === undefined ? {} : { correlationId: id };
      },
    },
    destination,
  );
}

/**
 * Nest's readable lines, with the correlation id after the context: `[Access] (3f0c…) message`.
 */
export class TextLogger extends ConsoleLogger {
  protected override formatContext(context: string): string {
    const id = correlationId();
    return id === undefined ? super.formatContext(context) : `${super.formatContext(context)}(${id}) `;
  }
}

/**
 * One pino logger per process, over an asynchronous stdout: lines written while a write is in flight are
 * joined into the next one, so a busy gateway makes one system call per burst instead of one per request,
 * and the event loop never waits on a slow reader (bench/log.ts measures it against the batching logger this
 * replaced). Pino writes what is pending synchronously when the process exits, as it does on a fatal error.
 * nestjs-pino keeps one root per process too; the embedded mode's three services share it.
 */
let processLogger: pino.Logger | undefined;

/** JSON lines in production and when piped; readable lines in an interactive terminal. */
export function createLogger(service: string, env: Record<string, string | undefined>): LoggerService {
  const json = env.LOG_FORMAT ? env.LOG_FORMAT === 'json' : !process.stdout.isTTY;
  const level: Level = env.LOG_LEVEL === 'debug' ? 'debug' : env.LOG_LEVEL === 'warn' ? 'warn' : 'info';
  if (!json) {
    const levels: LogLevel[] =
      level === 'debug'
        ? ['error', 'warn', 'log', 'debug']
        : level === 'warn'
          ? ['error', 'warn']
          : ['error', 'warn', 'log'];
    return new TextLogger(service, { logLevels: levels, colors: true });
  }
  processLogger ??= jsonLogger(level, pino.destination({ dest: 1, sync: false }));
  return new Logger(new PinoLogger({ pinoHttp: { logger: processLogger } }), {});
}
