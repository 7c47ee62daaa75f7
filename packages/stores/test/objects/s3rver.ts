import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** s3rver's fixed credentials. */
export const S3RVER_ACCESS_KEY = 'S3RVER';
export const S3RVER_SECRET_KEY = 'S3RVER';

export interface S3rverInstance {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  stop(): Promise<void>;
}

const RUNNER = fileURLToPath(new URL('./s3rver-runner.mjs', import.meta.url));
const START_BOUND_MS = 20_000;

/**
 * Starts s3rver in a child process (see s3rver-runner.mjs for why not in this one) and waits, at most
 * 20 s, for its port.
 */
export async function startS3rver(): Promise<S3rverInstance> {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', RUNNER], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const timer = setTimeout(() => child.kill('SIGKILL'), START_BOUND_MS);
  try {
    const [line] = (await Promise.race([
      once(lines, 'line'),
      once(child, 'exit').then(([code]) => {
        throw new Error(`s3rver exited before listening (exit code ${String(code)})`);
      }),
    ])) as [string];
    const { port } = JSON.parse(line) as { port: number };
    return {
      endpoint: `http://127.0.0.1:${port}`,
      stop: async () => {
        if (child.exitCode !== null) return;
        const exited = once(child, 'exit');
        child.stdin.end();
        await exited;
      },
    };
  } finally {
    clearTimeout(timer);
  }
}
