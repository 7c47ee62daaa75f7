import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SANDBOX_MIGRATIONS, type SandboxTables } from '../src/repositories/sandbox-schema.js';
import { SandboxRepository } from '../src/repositories/sandbox.repository.js';
import { openTestSqlStore, SQL_ADAPTERS, type TestSqlStore } from './support/sql.js';

/**
 * What a subscriber to a sandbox's events reads from the store while its provisioning keeps writing: the
 * snapshot's events are exactly those after the one asked for up to the snapshot's last sequence number. An
 * event counted in that number but missing from the events is one the subscriber never sees (it is neither
 * in the history nor after it, live), and a watcher waiting for `ready` then waits for ever.
 */
const TENANT = 'default';
const WRITES = 300;

describe.each(SQL_ADAPTERS)('a sandbox event snapshot on %s', (adapter) => {
  let store: TestSqlStore<SandboxTables>;
  let sandboxes: SandboxRepository;

  beforeAll(async () => {
    store = await openTestSqlStore<SandboxTables>(adapter);
    await store.sql.migrate(SANDBOX_MIGRATIONS);
    sandboxes = new SandboxRepository(store.sql);
  });

  afterAll(async () => {
    await store.cleanup();
  });

  it('holds every event up to its last sequence number, while events are being written', async () => {
    const reserved = await sandboxes.reserve(
      TENANT,
      {
        id: randomUUID(),
        userId: 'ada',
        name: 'busy',
        labels: {},
        runtime: 'process',
        spec: {},
        idempotencyKey: null,
        requestHash: null,
        expiresAt: null,
        cpus: 1,
        memoryMb: 256,
      },
      { sandboxes: 10, cpus: 10, memoryMb: 10_000 },
    );
    if (!('row' in reserved)) throw new Error(reserved.quotaExceeded);
    const id = reserved.row.id;

    const progress = { writing: true };
    const writer = (async () => {
      for (let index = 0; index < WRITES; index += 1) {
        await sandboxes.appendEvent(TENANT, id, 'provisioning_step', { index });
      }
      progress.writing = false;
    })();

    const torn: { after: number; lastSeq: number; seqs: number[] }[] = [];
    let reads = 0;
    while (progress.writing) {
      // Resuming from somewhere in the middle, as a reconnecting subscriber does.
      const after = reads % 3 === 0 ? 0 : Math.floor(reads / 2);
      const snapshot = await sandboxes.snapshot(TENANT, id, after);
      if (snapshot === undefined) throw new Error('the sandbox vanished');
      const seqs = snapshot.events.map((event) => event.seq);
      const expected = Array.from({ length: Math.max(0, snapshot.lastSeq - after) }, (_, i) => after + 1 + i);
      if (JSON.stringify(seqs) !== JSON.stringify(expected))
        torn.push({ after, lastSeq: snapshot.lastSeq, seqs });
      reads += 1;
    }
    await writer;

    expect(reads).toBeGreaterThan(0);
    expect(torn.map(({ after, lastSeq, seqs }) => ({ after, lastSeq, got: seqs.at(-1) }))).toEqual([]);
    const final = await sandboxes.snapshot(TENANT, id, 0);
    expect(final?.lastSeq).toBe(WRITES + 1);
    expect(final?.events.map((event) => event.seq)).toEqual(
      Array.from({ length: WRITES + 1 }, (_, index) => index + 1),
    );
  });
});
