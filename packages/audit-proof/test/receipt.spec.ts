import { describe, expect, it } from 'vitest';

import {
  envelopeHash,
  eventLeafHash,
  formatCheckpoint,
  fromHex,
  signNote,
  verifyReceiptProof,
  type Receipt,
  type ReceiptProof,
  type TurnEnvelope,
  type VerifyFailureCode,
} from '../src/index.js';
import { buildTenantLog } from './support/tenant-log.js';

interface Draft {
  turn_id: string;
  tenant_id: string;
  events: { index: number; event: Record<string, unknown>; leaf_hash: string; inclusion: string[] }[];
  envelope: Record<string, unknown> & { chain: { seq: number; prev: string | null } };
  envelope_hash: string;
  log: { index: number; tree_size: number; root: string; inclusion: string[]; checkpoint: string };
  consistency?: { from_size: number; to_size: number; proof: string[] };
}
type Damage = (draft: Draft) => void | Promise<void>;

async function damaged(proof: ReceiptProof, change: Damage): Promise<Draft> {
  const copy = structuredClone(proof) as unknown as Draft;
  await change(copy);
  return copy;
}

/** Flips the lowest bit of the first byte of a hex hash. */
const flipHex = (hex: string): string =>
  `${hex.slice(0, 1)}${(Number.parseInt(hex.charAt(1), 16) ^ 1).toString(16)}${hex.slice(2)}`;

function eventAt(draft: Draft, position: number): Draft['events'][number] {
  const item = draft.events[position];
  if (item === undefined) throw new Error(`no event ${position}`);
  return item;
}

describe('verifyReceiptProof', async () => {
  // Six sealed turns of four events in one tenant log; the proofs are against the checkpoint of size 6.
  const log = await buildTenantLog(6, 4);
  const proof = log.proofs[3] as ReceiptProof;
  const prev = log.proofs[2] as Receipt;
  const signCheckpoint = async (origin: string, size: number, root: Uint8Array): Promise<string> =>
    signNote(formatCheckpoint({ origin, size, rootHash: root }), [log.signer]);

  it('accepts a genuine proof and lists every check it made, in order', async () => {
    const report = await verifyReceiptProof(await log.proofFrom(3, 2), log.keys, {
      prev,
      checkpoint: log.checkpoints[1],
    });
    expect(report.ok).toBe(true);
    expect(report.checks.map((line) => line.split(':')[0])).toEqual([
      'keys',
      'events',
      'envelope',
      'log',
      'checkpoint',
      'chain',
      'consistency',
    ]);
    expect(report.checks.join('\n')).toMatch(/events: 4 event\(s\) hash to merkle_root [0-9a-f]{64}/);
    expect(report.checks.join('\n')).toMatch(/log: entry 3 of 6/);
    expect(report.checks.join('\n')).toMatch(/consistency: size 2 → 6/);
    // The first turn of the tenant, with no options at all.
    expect(await verifyReceiptProof(log.proofs[0], log.keys)).toMatchObject({ ok: true });
    // From the same size: an empty consistency proof.
    expect(
      await verifyReceiptProof(await log.proofFrom(5, 6), log.keys, { checkpoint: log.checkpoints[5] }),
    ).toMatchObject({ ok: true });
  });

  const cases: readonly (readonly [string, VerifyFailureCode, Damage])[] = [
    [
      'a field of the wrong type',
      'proof_malformed',
      (p) => {
        (p.log as Record<string, unknown>)['index'] = '3';
      },
    ],
    [
      'an event of another turn',
      'event_foreign',
      (p) => {
        eventAt(p, 2).event['turn_id'] = log.proofs[4]?.turn_id;
      },
    ],
    [
      'one byte of an event',
      'event_hash_mismatch',
      (p) => {
        const event = eventAt(p, 1).event;
        event['user_id'] = String(event['user_id']).replace('a', 'b');
      },
    ],
    [
      'an event with its leaf hash recomputed to match',
      'event_inclusion_invalid',
      async (p) => {
        const item = eventAt(p, 1);
        item.event['attributes'] = { step: 9 };
        item.leaf_hash = await eventLeafHash(item.event);
      },
    ],
    [
      'two events reordered',
      'event_missing',
      (p) => {
        const [first, second] = [eventAt(p, 0), eventAt(p, 1)];
        p.events[0] = second;
        p.events[1] = first;
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
        const item = eventAt(p, 0);
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
      'the turn the receipt names',
      'envelope_hash_mismatch',
      (p) => {
        p.turn_id = log.proofs[4]?.turn_id ?? '';
      },
    ],
    [
      'a chain link',
      'envelope_hash_mismatch',
      (p) => {
        p.envelope.chain.prev = flipHex(p.envelope.chain.prev ?? '');
      },
    ],
    [
      'a chain link with the envelope hash recomputed to match',
      'log_inclusion_invalid',
      async (p) => {
        p.envelope.chain.prev = flipHex(p.envelope.chain.prev ?? '');
        p.envelope_hash = await envelopeHash(p.envelope as unknown as TurnEnvelope);
      },
    ],
    [
      'a log inclusion node',
      'log_inclusion_invalid',
      (p) => {
        p.log.inclusion[1] = flipHex(p.log.inclusion[1] ?? '');
      },
    ],
    [
      'the log index',
      'log_inclusion_invalid',
      (p) => {
        p.log.index = 2;
      },
    ],
    [
      'the checkpoint text',
      'checkpoint_signature_invalid',
      (p) => {
        p.log.checkpoint = p.log.checkpoint.replace('\n6\n', '\n7\n');
      },
    ],
    [
      'the checkpoint signature',
      'checkpoint_signature_invalid',
      (p) => {
        const note = p.log.checkpoint;
        p.log.checkpoint = `${note.slice(0, -6)}${note.at(-6) === 'A' ? 'B' : 'A'}${note.slice(-5)}`;
      },
    ],
    [
      'a checkpoint of another log, signed',
      'checkpoint_origin_mismatch',
      async (p) => {
        p.log.checkpoint = await signCheckpoint('aibox.local/audit/other', 6, fromHex(p.log.root));
      },
    ],
    [
      'an older checkpoint of the same log',
      'checkpoint_mismatch',
      (p) => {
        p.log.checkpoint = log.checkpoints[4] ?? '';
      },
    ],
  ];
  it.each(cases)('names %s as %s', async (_name, code, change) => {
    const report = await verifyReceiptProof(await damaged(proof, change), log.keys);
    expect(report.ok).toBe(false);
    if (!report.ok) expect(report.failure.code).toBe(code);
  });

  it('says what failed and where', async () => {
    const malformed = await verifyReceiptProof(
      await damaged(proof, (p) => {
        (eventAt(p, 2) as Record<string, unknown>)['leaf_hash'] = 'ABC';
      }),
      log.keys,
    );
    expect(malformed).toMatchObject({
      ok: false,
      checks: [],
      failure: { code: 'proof_malformed', message: /^proof\.events\[2\]\.leaf_hash/ },
    });
    const tampered = await verifyReceiptProof(
      await damaged(proof, (p) => {
        eventAt(p, 3).event['type'] = 'turn_failed';
      }),
      log.keys,
    );
    expect(tampered).toMatchObject({
      ok: false,
      checks: ['keys: 1 checkpoint key(s)'],
      failure: {
        code: 'event_hash_mismatch',
        message: 'event 3: leaf hash does not match its canonical JSON',
      },
    });
    // Handed objects rather than parsed JSON: a value JSON cannot hold is a malformed proof, not a throw.
    const undefinedField = await verifyReceiptProof(
      await damaged(proof, (p) => {
        eventAt(p, 0).event['extra'] = undefined;
      }),
      log.keys,
    );
    expect(undefinedField).toMatchObject({
      ok: false,
      failure: { code: 'proof_malformed', message: /^proof\.events\[0\]\.event/ },
    });
    expect(await verifyReceiptProof('not a proof', log.keys)).toMatchObject({
      ok: false,
      failure: { code: 'proof_malformed' },
    });
  });

  it('needs events that hash to merkle_root even when there are none', async () => {
    const empty = await damaged(proof, (p) => {
      p.events = [];
      p.envelope['event_count'] = 0;
    });
    expect(await verifyReceiptProof(empty, log.keys)).toMatchObject({
      ok: false,
      failure: { code: 'events_root_mismatch' },
    });
  });

  it('refuses keys that are not a key set, and keys of someone else', async () => {
    const other = await buildTenantLog(1);
    expect(await verifyReceiptProof(proof, other.keys)).toMatchObject({
      ok: false,
      failure: { code: 'checkpoint_key_unknown' },
    });
    expect(await verifyReceiptProof(proof, { keys: 'none' })).toMatchObject({
      ok: false,
      checks: [],
      failure: { code: 'keys_invalid' },
    });
  });

  it('checks the chain link to the previous receipt', async () => {
    for (const wrong of [log.proofs[1], log.proofs[3], log.proofs[4]]) {
      expect(await verifyReceiptProof(proof, log.keys, { prev: wrong })).toMatchObject({
        ok: false,
        failure: { code: 'chain_link_invalid' },
      });
    }
    const elsewhere = await buildTenantLog(3, 4, 'globex');
    expect(await verifyReceiptProof(proof, log.keys, { prev: elsewhere.proofs[2] })).toMatchObject({
      ok: false,
      failure: { code: 'chain_link_invalid' },
    });
    expect(
      await verifyReceiptProof(proof, log.keys, { prev: { ...prev, envelope_hash: 'nope' } }),
    ).toMatchObject({ ok: false, failure: { code: 'proof_malformed', message: /^prev\.envelope_hash/ } });
  });

  it('holds every envelope to the chain rule: prev is null exactly at seq 0, with or without prev', async () => {
    // Logged, signed and otherwise consistent, so only the chain rule can catch them.
    const pointsBack = await buildTenantLog(2, 2, 'acme', (turn, prev) => ({
      seq: turn,
      prev: prev ?? 'ab'.repeat(32),
    }));
    expect(await verifyReceiptProof(pointsBack.proofs[0], pointsBack.keys)).toMatchObject({
      ok: false,
      failure: { code: 'chain_link_invalid' },
    });
    const unlinked = await buildTenantLog(2, 2, 'acme', (turn) => ({ seq: turn, prev: null }));
    expect(await verifyReceiptProof(unlinked.proofs[1], unlinked.keys)).toMatchObject({
      ok: false,
      failure: { code: 'chain_link_invalid' },
    });
    expect(await verifyReceiptProof(unlinked.proofs[0], unlinked.keys)).toMatchObject({ ok: true });
  });

  it('proves the log grew from an older checkpoint, and refuses every way it might not have', async () => {
    const from2 = await log.proofFrom(3, 2);
    const older = log.checkpoints[1];
    expect(await verifyReceiptProof(proof, log.keys, { checkpoint: older })).toMatchObject({
      ok: false,
      failure: { code: 'consistency_missing' },
    });
    const badNode = await damaged(from2, (p) => {
      const consistency = p.consistency;
      if (consistency !== undefined) consistency.proof[0] = flipHex(consistency.proof[0] ?? '');
    });
    const shortProof = await damaged(from2, (p) => {
      p.consistency?.proof.pop();
    });
    const wrongFrom = await log.proofFrom(3, 3);
    for (const [what, candidate, checkpoint] of [
      ['a flipped node', badNode, older],
      ['a missing node', shortProof, older],
      ['a proof from another size', wrongFrom, older],
      [
        'an older checkpoint of another log',
        from2,
        await signCheckpoint('aibox.local/audit/other', 2, new Uint8Array(32)),
      ],
      [
        'an "older" checkpoint of a larger tree',
        from2,
        await signCheckpoint(log.origin, 7, new Uint8Array(32)),
      ],
      [
        'an empty older checkpoint with a root',
        from2,
        await signCheckpoint(log.origin, 0, new Uint8Array(32)),
      ],
    ] as const) {
      expect(await verifyReceiptProof(candidate, log.keys, { checkpoint }), what).toMatchObject({
        ok: false,
        failure: { code: 'consistency_invalid' },
      });
    }
    const emptyRoot = fromHex('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(
      await verifyReceiptProof(proof, log.keys, {
        checkpoint: await signCheckpoint(log.origin, 0, emptyRoot),
      }),
    ).toMatchObject({ ok: true });
    const other = await buildTenantLog(2);
    expect(await verifyReceiptProof(from2, log.keys, { checkpoint: other.checkpoints[1] })).toMatchObject({
      ok: false,
      failure: { code: 'checkpoint_key_unknown', message: /older checkpoint/ },
    });
  });
});
