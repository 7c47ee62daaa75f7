import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Re-evaluates `probe` until it returns true, giving up (and failing) after `boundMs`. For effects that
 * happen "soon" (expiry, reconnects); the bound is a ceiling, not an expectation.
 */
export async function eventually(
  what: string,
  probe: () => Promise<boolean>,
  boundMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`${what}: still not true after ${boundMs} ms`);
    await sleep(20);
  }
}
