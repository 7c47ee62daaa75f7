import { generateKeySetValue } from '@aibox/identity';
import { bootService } from '@aibox/platform';
import fastify from 'fastify';

import { freePort } from './child-target.js';

/**
 * The server side of the `platform-health` benchmark, run as its own process so that the load generator does
 * not share its event loop: `node health-target.js bare|platform` prints `ready <url>` once it listens on
 * loopback and exits when its standard input closes (also when the benchmark process dies).
 */

interface Target {
  readonly url: string;
  close(): Promise<void>;
}

/** The baseline: Fastify with one route, nothing else. */
async function startBare(): Promise<Target> {
  const app = fastify();
  app.get('/healthz', () => ({ status: 'ok' }));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: `${address}/healthz`, close: () => app.close() };
}

// An empty service: the platform's own health controller is all it serves.
class HealthBenchModule {}

/** A service booted the way every aibox service is, with `bootService` and the platform's defaults. */
async function startPlatform(): Promise<Target> {
  const port = await freePort();
  const service = await bootService({
    name: 'bench',
    module: { module: HealthBenchModule },
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      AIBOX_PRINCIPAL_KEYS: generateKeySetValue(['bench-principal']),
      AIBOX_CAPTOKEN_KEYS: generateKeySetValue(['bench-captoken']),
      SHUTDOWN_GRACE_MS: '1000',
    },
    // Info level as in production; nothing is logged per /healthz request at that level.
    logDestination: { write: () => undefined },
  });
  return { url: `${service.httpUrl}/healthz`, close: () => service.close() };
}

async function main(): Promise<void> {
  const kind = process.argv[2];
  if (kind !== 'bare' && kind !== 'platform') {
    process.stderr.write('usage: node health-target.js bare|platform\n');
    process.exitCode = 2;
    return;
  }
  const target = kind === 'bare' ? await startBare() : await startPlatform();
  process.stdin.on('close', () => {
    void target.close().finally(() => process.exit(0));
  });
  process.stdin.resume();
  process.stdout.write(`ready ${target.url}\n`);
}

await main();
