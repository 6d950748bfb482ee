import { ConsoleLogger, type LogLevel } from '@nestjs/common';

type JsonOptions = Parameters<ConsoleLogger['getJsonLogObject']>[1];

/**
 * JSON lines, written in batches: the gateway logs a line per request, and stdout is synchronous for files
 * and pipes on Linux, so one write per line would be a system call per request on the event loop. Lines of
 * a tick are joined into one write; errors go out at once, after whatever was pending, so order is kept.
 */
export class JsonLinesLogger extends ConsoleLogger {
  private pending: string[] = [];
  private scheduled = false;
  private readonly flushOnExit = () => this.flush();

  constructor(context: string, logLevels: LogLevel[]) {
    super(context, { json: true, logLevels, colors: false });
    process.once('exit', this.flushOnExit);
  }

  protected override printAsJson(message: unknown, options: JsonOptions): void {
    const line = `${this.stringifyJsonLogObject(this.getJsonLogObject(message, options))}\n`;
    if (options.writeStreamType === 'stderr') {
      this.flush();
      process.stderr.write(line);
      return;
    }
    this.pending.push(line);
    if (this.pending.length >= 512) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    process.stdout.write(chunk);
  }
}

/** JSON lines in production and when piped; readable lines in an interactive terminal. */
export function createLogger(service: string, env: Record<string, string | undefined>): ConsoleLogger {
  const json = env.LOG_FORMAT ? env.LOG_FORMAT === 'json' : !process.stdout.isTTY;
  const levels: LogLevel[] =
    env.LOG_LEVEL === 'debug'
      ? ['error', 'warn', 'log', 'debug']
      : env.LOG_LEVEL === 'warn'
        ? ['error', 'warn']
        : ['error', 'warn', 'log'];
  return json
    ? new JsonLinesLogger(service, levels)
    : new ConsoleLogger(service, { logLevels: levels, colors: true });
}
