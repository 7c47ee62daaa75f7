import { describe, expect, it } from 'vitest';

import { eventLeafHash, verifyReceiptProof, type ReceiptProof } from '../src/index.js';
import { buildTenantLog } from './support/tenant-log.js';

interface Draft {
  events: { index: number; event: Record<string, unknown>; leaf_hash: string; inclusion: string[] }[];
  envelope: Record<string, unknown>;
  log: Record<string, unknown>;
}
type Damage = (draft: Draft) => void;

function damaged(proof: ReceiptProof, change: Damage): Draft {
  const copy = structuredClone(proof) as unknown as Draft;
  change(copy);
  return copy;
}

describe('verifyReceiptProof', async () => {
  const log = await buildTenantLog(6, 4);
  const proof = log.proofs[3] as ReceiptProof;
  const prev = log.proofs[2];

  it('accepts a genuine proof, with its chain link and consistency from an older checkpoint', async () => {
    const report = await verifyReceiptProof(await log.proofFrom(3, 2), log.keys, {
      prev,
      checkpoint: log.checkpoints[1],
    });
    expect(report).toMatchObject({ ok: true });
    expect(report.checks.join('\n')).toMatch(/consistency: size 2 → 6/);
  });

  const flipHex = (hex: string): string => `${hex[0] === 'a' ? 'b' : 'a'}${hex.slice(1)}`;
  const cases: readonly (readonly [string, string, Damage])[] = [
    [
      'an event attribute',
      'event_hash_mismatch',
      (p) => {
        const item = p.events[1];
        if (item !== undefined) item.event['attributes'] = { step: 9 };
      },
    ],
    [
      'an event leaf hash and attribute together',
      'event_inclusion_invalid',
      (p) => {
        const item = p.events[1] as { event: Record<string, unknown>; leaf_hash: string };
        item.event['attributes'] = { step: 9 };
        item.leaf_hash = 'placeholder';
      },
    ],
    [
      'two events reordered',
      'event_missing',
      (p) => {
        p.events.reverse();
      },
    ],
    [
      'one event dropped',
      'event_missing',
      (p) => {
        p.events.pop();
      },
    ],
    [
      'an event inclusion node',
      'event_inclusion_invalid',
      (p) => {
        const item = p.events[0] as { inclusion: string[] };
        item.inclusion[0] = flipHex(item.inclusion[0] ?? '');
      },
    ],
    [
      'an envelope field',
      'envelope_hash_mismatch',
      (p) => {
        p.envelope['sealed_at'] = '2030-01-01T00:00:00.000Z';
      },
    ],
    [
      'a log inclusion node',
      'log_inclusion_invalid',
      (p) => {
        const inclusion = p.log['inclusion'] as string[];
        inclusion[0] = flipHex(inclusion[0] ?? '');
      },
    ],
    [
      'the checkpoint text',
      'checkpoint_signature_invalid',
      (p) => {
        p.log['checkpoint'] = String(p.log['checkpoint']).replace('\n6\n', '\n7\n');
      },
    ],
    [
      'the checkpoint signature',
      'checkpoint_signature_invalid',
      (p) => {
        const note = String(p.log['checkpoint']);
        p.log['checkpoint'] = `${note.slice(0, -6)}${note.at(-6) === 'A' ? 'B' : 'A'}${note.slice(-5)}`;
      },
    ],
    [
      'a field of the wrong type',
      'proof_malformed',
      (p) => {
        p.log['index'] = '3';
      },
    ],
  ];
  it.each(cases)('detects %s (%s)', async (_name, code, change) => {
    const copy = damaged(proof, change);
    if (code === 'event_inclusion_invalid' && _name.startsWith('an event leaf hash')) {
      // A leaf hash recomputed to match the rewritten event: the inclusion proof no longer leads to the root.
      const item = copy.events[1];
      if (item !== undefined) item.leaf_hash = await eventLeafHash(item.event);
    }
    const report = await verifyReceiptProof(copy, log.keys);
    expect(report.ok).toBe(false);
    if (!report.ok) expect(report.failure.code).toBe(code);
  });

  it('detects a wrong chain link, a wrong older checkpoint, and keys of someone else', async () => {
    expect(await verifyReceiptProof(proof, log.keys, { prev: log.proofs[1] })).toMatchObject({
      ok: false,
      failure: { code: 'chain_link_invalid' },
    });
    expect(await verifyReceiptProof(proof, log.keys, { checkpoint: log.checkpoints[1] })).toMatchObject({
      ok: false,
      failure: { code: 'consistency_missing' },
    });
    const wrongFrom = await log.proofFrom(3, 3);
    expect(await verifyReceiptProof(wrongFrom, log.keys, { checkpoint: log.checkpoints[1] })).toMatchObject({
      ok: false,
      failure: { code: 'consistency_invalid' },
    });
    const other = await buildTenantLog(1);
    expect(await verifyReceiptProof(proof, other.keys)).toMatchObject({
      ok: false,
      failure: { code: 'checkpoint_key_unknown' },
    });
    expect(await verifyReceiptProof(proof, { keys: 'none' })).toMatchObject({
      ok: false,
      failure: { code: 'keys_invalid' },
    });
    expect(await verifyReceiptProof('not a proof', log.keys)).toMatchObject({
      ok: false,
      failure: { code: 'proof_malformed' },
    });
  });
});
