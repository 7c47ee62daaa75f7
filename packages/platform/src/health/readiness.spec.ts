import { describe, expect, it } from 'vitest';

import { Readiness, type ReadinessReport } from './readiness.js';

const never = (): Promise<void> => new Promise<void>(() => undefined);

describe('Readiness', () => {
  it('is ready with no checks, and reports each check by name', async () => {
    expect(await new Readiness().evaluate()).toEqual({ ready: true, draining: false, checks: {} });

    const failures: string[] = [];
    const readiness = new Readiness((name, outcome) => failures.push(`${name} ${outcome}`), 50);
    readiness.add({ name: 'sql', check: () => Promise.resolve() });
    readiness.add({ name: 'cache', check: () => Promise.reject(new Error('connection refused')) });
    readiness.add({ name: 'objects', check: never });
    readiness.add({
      name: 'vectors',
      check: () => {
        throw new Error('thrown before any promise');
      },
    });
    expect(await readiness.evaluate()).toEqual({
      ready: false,
      draining: false,
      checks: { sql: 'ok', cache: 'failed', objects: 'timed_out', vectors: 'failed' },
    });
    expect(failures.sort()).toEqual(['cache failed', 'objects timed_out', 'vectors failed']);
  });

  it('reports details without letting them decide readiness', async () => {
    const readiness = new Readiness(() => undefined, 50);
    readiness.add({ name: 'sql', check: () => Promise.resolve() });
    readiness.addDetail({
      name: 'runtimes',
      describe: () => Promise.resolve({ process: { available: false, reason: 'no bwrap' } }),
    });
    readiness.addDetail({ name: 'broken', describe: () => Promise.reject(new Error('boom')) });
    readiness.addDetail({ name: 'slow', describe: never });
    expect(await readiness.evaluate()).toEqual({
      ready: true,
      draining: false,
      checks: { sql: 'ok' },
      details: {
        runtimes: { process: { available: false, reason: 'no bwrap' } },
        broken: 'unknown',
        slow: 'unknown',
      },
    });
    expect(() => {
      readiness.addDetail({ name: 'slow', describe: never });
    }).toThrow('a readiness detail named "slow" is already registered');
  });

  it('refuses two checks with one name', () => {
    const readiness = new Readiness();
    readiness.add({ name: 'sql', check: () => Promise.resolve() });
    expect(() => {
      readiness.add({ name: 'sql', check: () => Promise.resolve() });
    }).toThrow('a readiness check named "sql" is already registered');
  });

  it('stays not ready once draining, whatever the checks say', async () => {
    const readiness = new Readiness();
    readiness.add({ name: 'sql', check: () => Promise.resolve() });
    readiness.markDraining();
    expect(await readiness.evaluate()).toEqual({ ready: false, draining: true, checks: { sql: 'ok' } });
    expect(readiness.draining).toBe(true);
  });

  it('tells listeners when readiness changes, not on every evaluation', async () => {
    let up = true;
    const readiness = new Readiness();
    readiness.add({ name: 'sql', check: () => (up ? Promise.resolve() : Promise.reject(new Error('down'))) });
    const seen: ReadinessReport[] = [];
    readiness.onChange((report) => seen.push(report));

    await readiness.evaluate();
    await readiness.evaluate();
    up = false;
    await readiness.evaluate();
    await readiness.evaluate();
    up = true;
    await readiness.evaluate();
    readiness.markDraining();
    expect(seen.map((report) => report.ready)).toEqual([true, false, true, false]);
    expect(seen.at(-1)?.draining).toBe(true);
  });
});
