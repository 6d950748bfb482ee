import { ConsoleLogger, type LogLevel } from '@nestjs/common';

/** JSON lines in production and when piped; readable lines in an interactive terminal. */
export function createLogger(service: string, env: Record<string, string | undefined>): ConsoleLogger {
  const json = env.LOG_FORMAT ? env.LOG_FORMAT === 'json' : !process.stdout.isTTY;
  const levels: LogLevel[] =
    env.LOG_LEVEL === 'debug' ? ['error', 'warn', 'log', 'debug'] : ['error', 'warn', 'log'];
  return new ConsoleLogger(service, { json, logLevels: levels, colors: !json });
}
