import { Logger } from '@nestjs/common';

/**
 * The part of a pino logger that the request-level pieces (error mapping, guards) use: fields first, then a
 * message. A pino `Logger` satisfies it as is.
 */
export interface RequestLogger {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

/** Injection token for the {@link RequestLogger} the guards use; optional (Nest's logger otherwise). */
export const REQUEST_LOGGER: unique symbol = Symbol('aibox.REQUEST_LOGGER');

/** A {@link RequestLogger} over Nest's `Logger`, for apps and tests that provide no pino logger. */
export function nestRequestLogger(context = 'aibox'): RequestLogger {
  const logger = new Logger(context);
  return {
    error: (fields, message) => {
      const { err, ...rest } = fields as { err?: unknown };
      logger.error({ ...rest, msg: message }, err instanceof Error ? err.stack : undefined);
    },
    warn: (fields, message) => {
      logger.warn({ ...fields, msg: message });
    },
    debug: (fields, message) => {
      logger.debug({ ...fields, msg: message });
    },
  };
}
