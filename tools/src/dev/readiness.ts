import { request } from 'node:http';

/** How long one `/readyz` probe may take before it counts as "not ready yet". */
const PROBE_TIMEOUT_MS = 1_000;

/**
 * One `GET <url>` on a fresh connection (no keep-alive, so nothing lingers); resolves with the status code, or
 * undefined when nothing answered in time.
 */
export function probeStatus(url: string, timeoutMs: number = PROBE_TIMEOUT_MS): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => {
      req.destroy();
    });
    req.on('error', () => {
      resolve(undefined);
    });
    req.end();
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface WaitForReadyOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** Time between probes. */
  readonly intervalMs: number;
  /** Stops waiting early (the service exited, or the user pressed Ctrl-C). */
  readonly signal: AbortSignal;
  /** Called every `progressEveryMs` while still waiting, with the time waited so far. */
  readonly onProgress?: (waitedMs: number) => void;
  readonly progressEveryMs?: number;
}

/** Polls `url` until it answers 200; resolves `ready`, `timeout` or `aborted`. */
export async function waitForReady(
  url: string,
  options: WaitForReadyOptions,
): Promise<'ready' | 'timeout' | 'aborted'> {
  const started = Date.now();
  const progressEvery = options.progressEveryMs ?? 10_000;
  let nextProgress = progressEvery;
  for (;;) {
    if (options.signal.aborted) {
      return 'aborted';
    }
    const waited = Date.now() - started;
    const remaining = options.timeoutMs - waited;
    if (remaining <= 0) {
      return 'timeout';
    }
    if ((await probeStatus(url, Math.min(PROBE_TIMEOUT_MS, remaining))) === 200) {
      return 'ready';
    }
    if (waited >= nextProgress) {
      options.onProgress?.(waited);
      nextProgress += progressEvery;
    }
    await pause(
      Math.min(options.intervalMs, Math.max(0, options.timeoutMs - (Date.now() - started))),
      options.signal,
    );
  }
}
