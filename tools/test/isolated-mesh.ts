import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { acquireLock, dropSchemas } from '@aibox/testing';

import { startMesh, type Mesh } from '../src/dev/index.js';

/** Longer than another test file may hold the mesh ports; a start-up hook's timeout must exceed it. */
export const MESH_PORTS_WAIT_MS = 300_000;
const MESH_PORTS_LOCK = 'aibox-mesh-ports';

/** The services whose tables live in a per-run schema on a shared PostgreSQL, by their schema setting. */
const SCHEMA_SETTINGS = {
  INFERENCE_SQL_SCHEMA: 'router',
  AGENT_SQL_SCHEMA: 'agent',
  SANDBOX_SQL_SCHEMA: 'sandbox',
  AUDIT_SQL_SCHEMA: 'audit',
} as const;

export interface IsolatedMesh {
  readonly mesh: Mesh;
  /** The run's `AIBOX_DATA_DIR` (dev keys, embedded stores, the seeded logins). */
  readonly dataDir: string;
  /** Stops the mesh, gives the ports back, removes the data dir and drops the run's schemas. */
  stop(): Promise<void>;
}

/**
 * The mesh as `make dev` starts it, on its fixed ports, for one test file: the ports held under a cross-process
 * lock (other files start the same mesh; vitest runs files in parallel), a temporary data dir, and on a shared
 * PostgreSQL (CI) each service's tables in schemas of this run only — earlier runs' providers, and their audit
 * checkpoints signed by other dev keys, stay out of sight. No model bootstrap: a model server running on this
 * machine must not change what the test sees.
 */
export async function startIsolatedMesh(options: {
  readonly rootDir: string;
  /** Names the run's data dir and schemas (`<service>_<label>_<random>`). */
  readonly label: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly write?: (line: string) => void;
}): Promise<IsolatedMesh> {
  const run = randomBytes(6).toString('hex');
  const schemas = Object.fromEntries(
    Object.entries(SCHEMA_SETTINGS).map(([setting, service]) => [
      setting,
      `${service}_${options.label}_${run}`,
    ]),
  );
  const release = await acquireLock(MESH_PORTS_LOCK, { timeoutMs: MESH_PORTS_WAIT_MS });
  const dataDir = await mkdtemp(join(tmpdir(), `aibox-${options.label}-`));
  const cleanUp = async (mesh: Mesh | undefined): Promise<void> => {
    try {
      await mesh?.stop();
    } finally {
      await release();
    }
    await rm(dataDir, { recursive: true, force: true });
    // On PGlite (no DATABASE_URL) there are no schemas to drop.
    const databaseUrl = process.env['DATABASE_URL'];
    if (databaseUrl !== undefined && databaseUrl !== '')
      await dropSchemas(Object.values(schemas), databaseUrl);
  };
  try {
    const mesh = await startMesh({
      rootDir: options.rootDir,
      env: {
        ...process.env,
        AIBOX_DATA_DIR: dataDir,
        INFERENCE_BOOTSTRAP: 'false',
        ...schemas,
        ...options.env,
      },
      write: options.write ?? (() => undefined),
      readyTimeoutMs: 60_000,
    });
    return { mesh, dataDir, stop: () => cleanUp(mesh) };
  } catch (error) {
    await cleanUp(undefined);
    throw error;
  }
}
