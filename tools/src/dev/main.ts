import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { DevRunnerError } from './dev-runner.error.js';
import { startMesh, type Mesh } from './mesh.js';

const USAGE = `usage: node tools/dist/dev/main.js [--root <repository>]

Runs aibox locally (make dev): every service under services/ as a plain process on embedded stores,
development keys generated once into $AIBOX_DATA_DIR/dev-keys.env (default .data/), the shell's
environment winning over every default. Ctrl-C stops everything.
Set AIBOX_DEV_RAW_LOGS=1 to see service logs exactly as printed.`;

/** The repository this file was built in: tools/dist/dev/main.js → three levels up. */
const DEFAULT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function printError(text: string): void {
  for (const line of text.split('\n')) {
    process.stderr.write(`dev | ${line}\n`);
  }
}

async function run(rootDir: string): Promise<number> {
  const abort = new AbortController();
  let mesh: Mesh | undefined;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      (mesh ?? { print: printError }).print(
        `${signal} again: still stopping (each service gets its grace period)`,
      );
      return;
    }
    signalled = true;
    if (mesh === undefined) {
      abort.abort();
    } else {
      void mesh.stop();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // If the runner itself dies, its services (each in its own process group) must not outlive it.
  process.on('exit', () => {
    mesh?.kill();
  });
  try {
    mesh = await startMesh({ rootDir, env: process.env, signal: abort.signal });
    if (mesh.services.length === 0) {
      return 0;
    }
    if (abort.signal.aborted) {
      // Ctrl-C came just as the last service became ready.
      void mesh.stop();
    } else {
      mesh.print('Ctrl-C stops everything');
    }
    const outcome = await mesh.done;
    return outcome.reason === 'stopped' ? 0 : 1;
  } catch (error) {
    if (error instanceof DevRunnerError) {
      if (error.code === 'start_aborted') {
        return 0;
      }
      printError(error.message);
      return 1;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function main(): Promise<void> {
  let root: string | undefined;
  try {
    const { values } = parseArgs({
      options: { root: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    });
    if (values.help === true) {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    root = values.root;
  } catch (error) {
    printError(`${(error as Error).message}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  // A closed terminal or pipe (make dev | head) must not crash the runner while it stops the services.
  process.stdout.on('error', () => undefined);
  process.exitCode = await run(resolve(root ?? DEFAULT_ROOT));
}

await main();
