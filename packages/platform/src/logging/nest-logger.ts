import type { LoggerService, LogLevel } from '@nestjs/common';
import type { Level, Logger } from 'pino';

const PINO_LEVEL: Readonly<Record<LogLevel, Level>> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

function splitParams(
  params: unknown[],
  withStack: boolean,
): { context?: string; stack?: string; extra: unknown[] } {
  const rest = [...params];
  // Nest appends the context (a class name) last, and passes an error's stack right before it.
  const context = typeof rest.at(-1) === 'string' ? (rest.pop() as string) : undefined;
  const stack =
    withStack && typeof rest.at(-1) === 'string' && (rest.at(-1) as string).includes('\n    at ')
      ? (rest.pop() as string)
      : undefined;
  return {
    ...(context === undefined ? {} : { context }),
    ...(stack === undefined ? {} : { stack }),
    extra: rest,
  };
}

/** Nest's own logs (startup, route mapping, uncaught errors) written through the service's pino logger. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('log', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('verbose', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: LogLevel, message: unknown, params: unknown[]): void {
    const pinoLevel = PINO_LEVEL[level];
    if (!this.logger.isLevelEnabled(pinoLevel)) {
      return;
    }
    const { context, stack, extra } = splitParams(params, level === 'error' || level === 'fatal');
    const fields: Record<string, unknown> = {};
    if (context !== undefined) fields['context'] = context;
    if (stack !== undefined) fields['stack'] = stack;
    if (extra.length > 0) fields['details'] = extra;
    if (message instanceof Error) {
      fields['err'] = message;
      this.logger[pinoLevel](fields, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[pinoLevel]({ ...fields, details: message });
    } else {
      this.logger[pinoLevel](fields, String(message));
    }
  }
}
