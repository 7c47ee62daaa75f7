import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { acquireLock, withExclusiveLock } from '../src/index.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BUILT_ENTRY = pathToFileURL(join(REPO_ROOT, 'packages', 'testing', 'dist', 'index.js')).href;

/** Another test process: takes the lock, says `held`, and ends on `exit` from stdin without releasing it. */
const HOLDER = `
import { acquireLock } from ${JSON.stringify(BUILT_ENTRY)};
const [name, directory] = process.argv.slice(1);
await acquireLock(name, { directory });
process.stdout.write('held\\n');
process.stdin.on('data', (data) => { if (String(data).includes('exit')) process.exit(0); });
`;

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'aibox-lock-test-'));
  // The other process runs the built package; an up-to-date build is a no-op.
  spawnSync(process.execPath, ['node_modules/tsgo/bin/tsc', '-b', 'packages/testing'], {
    cwd: REPO_ROOT,
    stdio: 'ignore',
  });
}, 120_000);

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

function lockName(): string {
  return `test-${randomBytes(4).toString('hex')}`;
}

function startHolder(name: string): Promise<ChildProcessWithoutNullStreams> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', HOLDER, name, directory], {
    stdio: 'pipe',
  });
  return new Promise((resolvePromise, reject) => {
    let output = '';
    let errors = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('held')) resolvePromise(child);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
    child.once('exit', (code) => {
      reject(new Error(`the holder process exited with ${String(code)} before it held the lock: ${errors}`));
    });
  });
}

function exited(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) resolvePromise();
    else
      child.once('exit', () => {
        resolvePromise();
      });
  });
}

describe('exclusive lock', () => {
  it('lets two holders in turn, never both at once', async () => {
    const name = lockName();
    const events: string[] = [];
    const hold = (holder: string) =>
      withExclusiveLock(
        name,
        async () => {
          events.push(`${holder} in`);
          await new Promise((wait) => setTimeout(wait, 300));
          events.push(`${holder} out`);
          return holder;
        },
        { directory, retryIntervalMs: 50 },
      );

    const results = await Promise.all([hold('a'), hold('b')]);

    expect(results).toEqual(['a', 'b']);
    expect(events).toHaveLength(4);
    // Whoever came first left before the other came in.
    const first = events[0]?.split(' ')[0] ?? '';
    const second = first === 'a' ? 'b' : 'a';
    expect(events).toEqual([`${first} in`, `${first} out`, `${second} in`, `${second} out`]);
  });

  it('gives the lock back when fn throws', async () => {
    const name = lockName();
    await expect(
      withExclusiveLock(name, () => Promise.reject(new Error('boom')), { directory }),
    ).rejects.toThrow('boom');
    const release = await acquireLock(name, { directory, timeoutMs: 1_000 });
    await release();
  });

  it.each(['exit', 'SIGTERM'] as const)(
    'waits for a holder in another process, names the lock when it gives up, and gets it once that process ends (%s)',
    async (ending) => {
      const name = lockName();
      const holder = await startHolder(name);
      try {
        const refused: unknown = await acquireLock(name, {
          directory,
          timeoutMs: 500,
          retryIntervalMs: 50,
        }).catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(Error);
        expect((refused as Error).message).toMatch(
          new RegExp(`^lock ${name} is still held by another test process after \\d+ s`),
        );

        // The holder ends without releasing: its exit hook removes the lock, long before it would go stale.
        if (ending === 'exit') holder.stdin.write('exit\n');
        else holder.kill('SIGTERM');
        await exited(holder);
        const release = await acquireLock(name, { directory, timeoutMs: 5_000, retryIntervalMs: 50 });
        await release();
      } finally {
        holder.kill('SIGKILL');
      }
    },
  );

  it('refuses a name that could leave the lock directory', async () => {
    await expect(acquireLock('../elsewhere', { directory })).rejects.toThrow(/lock name/);
  });
});
