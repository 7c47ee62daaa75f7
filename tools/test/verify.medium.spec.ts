import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Receipt, ReceiptProof } from '@aibox/audit-proof';
import { newTurnId } from '@aibox/identity';

import {
  Caller,
  eventually,
  newAuditIdentity,
  newTenant,
  removeIdentity,
  startAudit,
  turnEvent,
  type TestAudit,
} from '../../services/audit/test/support/audit.js';
import { runCli } from '../src/cli/run-cli.js';

interface Run {
  status: number;
  out: string[];
  err: string[];
}

async function aibox(...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runCli(argv, {
    env: {},
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { status, out, err };
}

describe('aibox verify', () => {
  let audit: TestAudit;
  let dir: string;
  const files = { proof: '', keys: '', prev: '', checkpoint: '', tampered: '', otherKeys: '', notJson: '' };

  beforeAll(async () => {
    audit = await startAudit(await newAuditIdentity('pglite'));
    dir = await mkdtemp(join(tmpdir(), 'aibox-verify-'));
    const who = { tid: newTenant(), uid: 'ada' };
    const caller = new Caller(audit, who);
    const sealTurn = async (): Promise<string> => {
      const turnId = newTurnId();
      await caller.publish(
        ['turn_started', 'model_invoked', 'turn_sealed'].map((type) => turnEvent(who, turnId, type)),
      );
      await eventually(async () =>
        (await caller.get(`/v1/receipts/${turnId}`)).status === 200 ? true : undefined,
      );
      return turnId;
    };
    const first = await sealTurn();
    const checkpoint = (await caller.get('/v1/audit/checkpoint')).text;
    const second = await sealTurn();
    const size = Number(checkpoint.split('\n')[1]);
    const proof = (await caller.get(`/v1/receipts/${second}/proof?from_size=${size}`)).json<ReceiptProof>();
    const prev = (await caller.get(`/v1/receipts/${first}`)).json<Receipt>();
    const keys = (await caller.get('/v1/audit/keys')).json();
    const other = await startAudit(await newAuditIdentity('pglite'));
    const otherKeys = (await new Caller(other, who).get('/v1/audit/keys')).json();
    await other.close();
    await removeIdentity(other.identity);

    const tampered = structuredClone(proof) as unknown as {
      events: { event: Record<string, unknown>; leaf_hash: string }[];
    };
    const event = tampered.events[1];
    if (event !== undefined) event.event['attributes'] = { note: 'rewritten after the fact' };
    const write = async (name: keyof typeof files, content: unknown): Promise<void> => {
      files[name] = join(dir, name);
      await writeFile(files[name], typeof content === 'string' ? content : JSON.stringify(content));
    };
    await write('proof', proof);
    await write('keys', keys);
    await write('prev', prev);
    await write('checkpoint', checkpoint);
    await write('tampered', tampered);
    await write('otherKeys', otherKeys);
    await write('notJson', '{"receipt": ');
  });
  afterAll(async () => {
    await audit.close();
    await removeIdentity(audit.identity);
    await rm(dir, { recursive: true, force: true });
  });

  it('verifies a proof with the chain link and consistency, listing what it checked', async () => {
    const run = await aibox(
      'verify',
      files.proof,
      '--keys',
      files.keys,
      '--prev',
      files.prev,
      '--checkpoint',
      files.checkpoint,
    );
    expect(run.err).toEqual([]);
    expect(run.status).toBe(0);
    expect(run.out.at(-1)).toBe('verified');
    expect(run.out.join('\n')).toMatch(/chain: follows turn/);
    expect(run.out.join('\n')).toMatch(/consistency: size \d+ → \d+/);
  });

  it('exits 1 naming the first failure', async () => {
    const tampered = await aibox('verify', files.tampered, '--keys', files.keys);
    expect(tampered.status).toBe(1);
    expect(tampered.err.join('\n')).toMatch(/^FAILED event_hash_mismatch: event 1/);
    const stranger = await aibox('verify', files.proof, '--keys', files.otherKeys);
    expect(stranger.status).toBe(1);
    expect(stranger.err.join('\n')).toMatch(/^FAILED checkpoint_key_unknown/);
    const wrongPrev = await aibox('verify', files.proof, '--keys', files.keys, '--prev', files.proof);
    expect(wrongPrev.status).toBe(1);
    expect(wrongPrev.err.join('\n')).toMatch(/^FAILED chain_link_invalid/);
  });

  it('exits 2 on bad usage and unreadable input', async () => {
    for (const argv of [
      ['verify', files.proof],
      ['verify', '--keys', files.keys],
      ['verify', join(dir, 'missing.json'), '--keys', files.keys],
      ['verify', files.notJson, '--keys', files.keys],
      ['verify', files.proof, files.proof, '--keys', files.keys],
    ]) {
      const run = await aibox(...argv);
      expect(run.status, argv.join(' ')).toBe(2);
      expect(run.err[0]).toMatch(/^aibox: /);
    }
  });
});
