import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { lock } from 'proper-lockfile';

/** Gives the lock back; resolves once another process can take it. */
export type ReleaseLock = () => Promise<void>;

export interface LockOptions {
  /** How long to wait for the lock before failing (default 300 s). */
  readonly timeoutMs?: number;
  /** How often to try again while another holder has it (default 250 ms). */
  readonly retryIntervalMs?: number;
  /** Where lock directories live (default `<os tmpdir>/aibox-test-locks`); every holder must use the same. */
  readonly directory?: string;
}

const DEFAULT_TIMEOUT_MS = 300_000;
const DEFAULT_RETRY_INTERVAL_MS = 250;
/**
 * A holder refreshes its lock's mtime every half of this; a lock left older (its process was SIGKILLed, so
 * the exit hook never ran) is taken over by the next one waiting.
 */
const STALE_AFTER_MS = 20_000;
const LOCK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function isLockHeld(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'ELOCKED';
}

/**
 * Takes the machine-wide lock `name`, waiting while another process (or another holder in this one) has it,
 * for tests that need something only one of them can have at a time — the mesh's fixed ports. The lock is
 * given back by the returned function, and by the library's exit hook when the process ends (normally or by
 * a signal) without calling it. Fails after `timeoutMs` with a message naming the lock.
 */
export async function acquireLock(name: string, options: LockOptions = {}): Promise<ReleaseLock> {
  if (!LOCK_NAME.test(name)) {
    throw new Error(`lock name ${JSON.stringify(name)} must be letters, digits, '.', '_' or '-'`);
  }
  const directory = options.directory ?? join(tmpdir(), 'aibox-test-locks');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const intervalMs = Math.max(1, options.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS);
  await mkdir(directory, { recursive: true });
  const file = join(directory, name);
  try {
    return await lock(file, {
      // The locked path is only a name: no file needs to exist behind it.
      realpath: false,
      stale: STALE_AFTER_MS,
      retries: {
        retries: Math.ceil(timeoutMs / intervalMs),
        factor: 1,
        minTimeout: intervalMs,
        maxTimeout: intervalMs,
      },
      // The library throws from a timer by default, which would end the whole test process.
      onCompromised: (error) => {
        process.stderr.write(`lock ${name} was lost while held (${error.message})\n`);
      },
    });
  } catch (error: unknown) {
    if (!isLockHeld(error)) throw error;
    throw new Error(
      `lock ${name} is still held by another test process after ${Math.round(timeoutMs / 1000)} s ` +
        `(its lock directory: ${file}.lock)`,
      { cause: error },
    );
  }
}

/** Runs `fn` holding the lock `name` (see {@link acquireLock}) and gives the lock back however `fn` ends. */
export async function withExclusiveLock<T>(
  name: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const release = await acquireLock(name, options);
  try {
    return await fn();
  } finally {
    await release();
  }
}
