import type { z } from 'zod';

import { ConfigError } from '../config/config.error.js';
import { bootService, type BootedService, type BootServiceOptions } from './boot-service.js';

/** Exit status for a configuration the service refuses (sysexits.h `EX_CONFIG`). */
export const EXIT_CONFIG = 78;
/** Exit status for any other failure to start or to stop cleanly. */
export const EXIT_FAILURE = 1;

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n', 1)[0] ?? text;
}

/**
 * The whole of a service's `main.ts`: boots it, prints `<name> listening http://… grpc://…`, and stops it
 * gracefully on SIGTERM or SIGINT (a second signal exits at once). A configuration error is printed as
 * its one line on stderr with exit status 78; any other startup failure as `<name> failed to start: …`
 * with exit status 1.
 */
export async function runService<S extends z.ZodObject = z.ZodObject>(
  options: BootServiceOptions<S>,
): Promise<BootedService<S>> {
  let service: BootedService<S>;
  try {
    service = await bootService(options);
  } catch (error: unknown) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    process.stderr.write(`${options.name} failed to start: ${oneLine(error)}\n`);
    process.exit(EXIT_FAILURE);
  }

  const { logger } = service;
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    process.exit(EXIT_FAILURE);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    process.exit(EXIT_FAILURE);
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal; exiting without waiting');
      process.exit(EXIT_FAILURE);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(EXIT_FAILURE);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  const grpc = service.grpcUrl === undefined ? '' : ` grpc://${service.grpcUrl}`;
  process.stdout.write(`${options.name} listening ${service.httpUrl}${grpc}\n`);
  return service;
}
