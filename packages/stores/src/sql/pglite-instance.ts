import { mkdir } from 'node:fs/promises';

import { PGlite } from '@electric-sql/pglite';
import type { Extensions, PGliteOptions } from '@electric-sql/pglite';

// A freshly initialised cluster, dumped once per process. `initdb` dominates PGlite's start-up, and tests
// open many in-memory stores: loading this snapshot instead is several times faster.
let pristineCluster: Promise<Blob> | undefined;

function pristine(): Promise<Blob> {
  pristineCluster ??= (async () => {
    const seed = await PGlite.create();
    try {
      return await seed.dumpDataDir('none');
    } finally {
      await seed.close();
    }
  })().catch((error: unknown) => {
    pristineCluster = undefined;
    throw error;
  });
  return pristineCluster;
}

export interface PGliteStart {
  /** Directory of a durable cluster (created if missing); undefined → in memory. */
  readonly dataDir: string | undefined;
  readonly extensions?: Extensions;
}

/** Starts PGlite with node-postgres' value conversions (int8 stays a string: no silent precision loss). */
export async function startPGlite({ dataDir, extensions }: PGliteStart): Promise<PGlite> {
  const options: PGliteOptions = {
    parsers: { 20: (value: string) => value },
    ...(extensions === undefined ? {} : { extensions }),
  };
  if (dataDir === undefined) return PGlite.create({ ...options, loadDataDir: await pristine() });
  await mkdir(dataDir, { recursive: true });
  return PGlite.create({ ...options, dataDir });
}
