import { afterEach, describe, expect, it, vi } from 'vitest';

import type { Logger } from '@aibox/platform';

import { ConversationPurger } from './conversation-purger.js';

function recordingLogger() {
  const lines: { level: string; fields: unknown; message: string }[] = [];
  const at =
    (level: string) =>
    (fields: unknown, message: string): void => {
      lines.push({ level, fields, message });
    };
  const logger = { info: at('info'), debug: at('debug'), error: at('error') } as unknown as Logger;
  return { logger, lines };
}

const NOW = Date.parse('2025-06-01T00:00:00.000Z');

describe('ConversationPurger', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('purges what was deleted longer ago than the retention, at start and on every interval', async () => {
    vi.useFakeTimers();
    const cutoffs: Date[] = [];
    const { logger, lines } = recordingLogger();
    const purger = new ConversationPurger(
      {
        purge: (deletedBefore) => {
          cutoffs.push(deletedBefore);
          return Promise.resolve(3);
        },
      },
      { purgeAfterS: 3600, intervalMs: 60_000, now: () => NOW },
      logger,
    ).start();

    await vi.advanceTimersByTimeAsync(0);
    expect(cutoffs).toEqual([new Date(NOW - 3_600_000)]);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(cutoffs).toHaveLength(3);
    expect(lines[0]).toMatchObject({ level: 'info', fields: { purged: 3 } });

    await purger.close();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(cutoffs).toHaveLength(3);
  });

  it('logs a failed sweep instead of throwing, and tries again at the next interval', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const { logger, lines } = recordingLogger();
    const purger = new ConversationPurger(
      {
        purge: () => {
          calls += 1;
          return calls === 1 ? Promise.reject(new Error('database away')) : Promise.resolve(0);
        },
      },
      { purgeAfterS: 0, intervalMs: 1_000, now: () => NOW },
      logger,
    ).start();

    await vi.advanceTimersByTimeAsync(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', message: expect.stringContaining('failed') as unknown });
    expect((lines[0]?.fields as { err?: unknown }).err).toBeInstanceOf(Error);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(2);
    expect(lines[1]).toMatchObject({ level: 'debug', fields: { purged: 0 } });
    await purger.close();
  });

  it('joins a sweep that is still running and waits for it on close', async () => {
    let finish: (count: number) => void = () => undefined;
    let calls = 0;
    const purger = new ConversationPurger(
      {
        purge: () => {
          calls += 1;
          return new Promise<number>((resolve) => {
            finish = resolve;
          });
        },
      },
      { purgeAfterS: 0, intervalMs: 60_000 },
      recordingLogger().logger,
    );
    const first = purger.sweep();
    const second = purger.sweep();
    expect(calls).toBe(1);

    let closed = false;
    const closing = purger.close().then(() => {
      closed = true;
    });
    await Promise.resolve();
    expect(closed).toBe(false);
    finish(2);
    expect(await first).toBe(2);
    expect(await second).toBe(2);
    await closing;
    expect(closed).toBe(true);
    expect(await purger.sweep()).toBe(0);
  });
});
