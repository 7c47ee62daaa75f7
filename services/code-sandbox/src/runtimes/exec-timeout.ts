/** The longest delay `setTimeout` holds (about 24.8 days); a longer timeout would fire at once. */
const TIMER_MAX_MS = 2_147_483_647;

/**
 * Kills an exec that outlives `timeoutS`, and resolves once it has ended: when `exited` settles and, for a
 * timed-out exec, once the kill finished (the wrapper dies with the first signal; the exec has ended only
 * when every process of it is gone). Shared by the runtimes, which differ only in how they kill and watch.
 */
export function endOrTimeout(
  timeoutS: number,
  exited: Promise<unknown>,
  kill: () => Promise<void>,
  onKillError: (error: unknown) => void,
): Promise<{ timedOut: boolean }> {
  let timedOut = false;
  let killing: Promise<void> | undefined;
  const timer = setTimeout(
    () => {
      timedOut = true;
      killing = kill().catch(onKillError);
    },
    Math.min(timeoutS * 1_000, TIMER_MAX_MS),
  );
  timer.unref();
  return exited.then(async () => {
    clearTimeout(timer);
    await killing;
    return { timedOut };
  });
}
