import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { verifyReceiptProof, type ReceiptProof } from '@aibox/audit-proof';
import { PublishStatus } from '@aibox/contracts';
import { newTurnId } from '@aibox/identity';
import { freePortPair, needs } from '@aibox/testing';

import {
  auditEnv,
  Caller,
  eventually,
  newAuditIdentity,
  newTenant,
  removeIdentity,
  turnEvent,
  type AuditEndpoint,
  type AuditIdentity,
  type Who,
} from './support/audit.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
const adapter = (await needs('postgres')) ? 'postgres' : 'pglite';
const WORKERS = 6;

interface Running {
  readonly child: ChildProcess;
  readonly audit: AuditEndpoint;
  readonly output: string[];
}

/** Starts the built audit service as its own process, as `make dev` would, and waits until it is ready. */
async function spawnAudit(identity: AuditIdentity): Promise<Running> {
  const http = await freePortPair();
  const env = auditEnv(
    identity,
    { http },
    { AUDIT_SEAL_IDLE_S: '1', AUDIT_CHECKPOINT_MS: '100', LOG_LEVEL: 'warn' },
  );
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
  const url = `http://127.0.0.1:${http}`;
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`audit exited ${child.exitCode}: ${output.join('')}`);
    try {
      return (await fetch(`${url}/readyz`)).ok ? true : undefined;
    } catch {
      return undefined;
    }
  }, 600);
  return { child, audit: { identity, url, grpcTarget: `127.0.0.1:${http + 1000}` }, output };
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => {
      resolve();
    });
    child.kill(signal);
  });
}

describe(`audit killed with SIGKILL while ingesting and sealing (${adapter})`, () => {
  let identity: AuditIdentity | undefined;
  const children: ChildProcess[] = [];

  afterAll(async () => {
    for (const child of children) await stop(child, 'SIGKILL');
    if (identity !== undefined) await removeIdentity(identity);
  });

  it('restarts into a log that verifies whole and holds every acknowledged event', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run make build`);
    identity = await newAuditIdentity(adapter);
    const first = await spawnAudit(identity);
    children.push(first.child);
    const tenant = newTenant();
    const acknowledged = new Set<string>();
    let stopLoad = false;

    const worker = async (index: number): Promise<void> => {
      const who: Who = { tid: tenant, uid: `user-${index}` };
      const caller = new Caller(first.audit, who);
      while (!stopLoad) {
        const turnId = newTurnId();
        const batches = [
          ['turn_started', 'model_invoked', 'tool_called'].map((type) => turnEvent(who, turnId, type)),
          [turnEvent(who, turnId, 'turn_sealed')],
        ];
        for (const batch of batches) {
          try {
            const results = await caller.publish(batch);
            for (const result of results) {
              if (result.status === PublishStatus.ACCEPTED || result.status === PublishStatus.DUPLICATE)
                acknowledged.add(result.eventId);
            }
          } catch {
            // The process is gone: what was not acknowledged may or may not be stored.
            return;
          }
        }
      }
    };
    const load = Array.from({ length: WORKERS }, (_, index) => worker(index));
    // Let it ingest and seal for a while, then kill it mid-flight.
    await eventually(() => Promise.resolve(acknowledged.size >= 400 ? true : undefined), 400);
    await stop(first.child, 'SIGKILL');
    stopLoad = true;
    await Promise.all(load);
    expect(acknowledged.size).toBeGreaterThanOrEqual(400);

    const second = await spawnAudit(identity);
    children.push(second.child);
    const admin = new Caller(second.audit, { tid: tenant, uid: 'root', roles: ['user', 'admin'] });

    // Every turn ends sealed: requested ones at once, the others after the idle timeout.
    const turns = await eventually(async () => {
      const all: { turn_id: string; state: string }[] = [];
      let cursor: string | undefined;
      do {
        const page = (
          await admin.get(`/v1/admin/audit/turns?limit=200${cursor === undefined ? '' : `&cursor=${cursor}`}`)
        ).json<{ turns: { turn_id: string; state: string }[]; next_cursor?: string }>();
        all.push(...page.turns);
        cursor = page.next_cursor;
      } while (cursor !== undefined);
      return all.length > 0 && all.every((turn) => turn.state === 'sealed') ? all : undefined;
    }, 400);

    const report = (await admin.get('/v1/admin/audit/verify')).json();
    expect(report).toMatchObject({ ok: true, tree_size: turns.length, turns_checked: turns.length });

    const stored = new Set<string>();
    for (const turn of turns) {
      const replay = (await admin.get(`/v1/audit/turns/${turn.turn_id}/replay`)).json<{
        events: { event: { event_id: string } }[];
      }>();
      for (const { event } of replay.events) stored.add(event.event_id);
    }
    const lost = [...acknowledged].filter((eventId) => !stored.has(eventId));
    expect(lost).toEqual([]);

    // And a receipt from before the crash still proves against the checkpoint signed after it.
    const keys = (await admin.get('/v1/audit/keys')).json();
    const proof = (await admin.get(`/v1/receipts/${turns.at(-1)?.turn_id ?? ''}/proof`)).json<ReceiptProof>();
    expect(await verifyReceiptProof(proof, keys)).toMatchObject({ ok: true });
    await stop(second.child, 'SIGTERM');
  });
});
