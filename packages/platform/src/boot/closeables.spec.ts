import { describe, expect, it } from 'vitest';

import { Closeables } from './closeables.js';

describe('Closeables', () => {
  it('closes newest first, keeps going past a failure and reports it', async () => {
    const closed: string[] = [];
    const failures: string[] = [];
    const closeables = new Closeables();
    closeables.add('pool', { close: () => void closed.push('pool') });
    closeables.add('cache', {
      close: () => Promise.reject(new Error('already gone')),
    });
    const repository = closeables.add('repository', {
      close: async () => {
        await Promise.resolve();
        closed.push('repository');
      },
    });
    expect(typeof repository.close).toBe('function');

    await closeables.closeAll((name, error) => failures.push(`${name}: ${(error as Error).message}`));
    expect(closed).toEqual(['repository', 'pool']);
    expect(failures).toEqual(['cache: already gone']);
  });

  it('closes each resource once and refuses registrations after shutdown', async () => {
    let count = 0;
    const closeables = new Closeables();
    closeables.add('pool', { close: () => void (count += 1) });
    await closeables.closeAll(() => undefined);
    await closeables.closeAll(() => undefined);
    expect(count).toBe(1);
    expect(() => closeables.add('late', { close: () => undefined })).toThrow(
      'cannot register "late": the service has already shut down',
    );
  });
});
