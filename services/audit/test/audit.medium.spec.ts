import { createHash } from 'node:crypto';

import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { verifyReceiptProof, type Receipt, type ReceiptProof } from '@aibox/audit-proof';
import { PublishStatus, TurnEventServiceClient, type PutArtifactResponse } from '@aibox/contracts';
import { generateKeySetValue, newTurnId } from '@aibox/identity';
import { needs } from '@aibox/testing';

import {
  Caller,
  eventually,
  newAuditIdentity,
  newTenant,
  removeIdentity,
  startAudit,
  turnEvent,
  type Adapter,
  type TestAudit,
  type Who,
} from './support/audit.js';

const adapters: Adapter[] = ['pglite', ...((await needs('postgres')) ? (['postgres'] as const) : [])];

async function sealedTurn(
  caller: Caller,
  types: readonly string[] = ['turn_started', 'model_invoked'],
): Promise<string> {
  const turnId = newTurnId();
  const events = [...types, 'turn_sealed'].map((type) => turnEvent(caller.who, turnId, type));
  const results = await caller.publish(events);
  expect(results.map((result) => result.status)).toEqual(events.map(() => PublishStatus.ACCEPTED));
  return turnId;
}

async function receiptOf(caller: Caller, turnId: string): Promise<Receipt> {
  return eventually(async () => {
    const answer = await caller.get(`/v1/receipts/${turnId}`);
    if (answer.status === 404 && answer.json()['code'] === 'receipt_pending') return undefined;
    expect(answer.status).toBe(200);
    return answer.json<Receipt>();
  });
}

function putArtifact(
  audit: TestAudit,
  caller: Caller,
  header: Record<string, string>,
  chunks: readonly Buffer[],
): Promise<PutArtifactResponse> {
  const client = new TurnEventServiceClient(audit.grpcTarget, credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const call = client.putArtifact(caller.metadata(), (error, response) => {
      client.close();
      if (error !== null) reject(error);
      else resolve(response);
    });
    call.write({
      payload: {
        $case: 'header',
        value: { tenantId: '', turnId: '', eventId: '', kind: '', contentType: '', ...header },
      },
    });
    for (const chunk of chunks) call.write({ payload: { $case: 'chunk', value: chunk } });
    call.end();
  });
}

describe.each(adapters)('audit on %s', (adapter) => {
  let audit: TestAudit;
  let keys: unknown;
  const tenant = newTenant();
  const ada: Who = { tid: tenant, uid: 'ada' };
  const bob: Who = { tid: tenant, uid: 'bob' };
  const admin: Who = { tid: tenant, uid: 'root', roles: ['user', 'admin'] };
  const outsider: Who = { tid: newTenant(), uid: 'eve', roles: ['user', 'admin'] };

  beforeAll(async () => {
    audit = await startAudit(await newAuditIdentity(adapter));
    keys = (await new Caller(audit, ada).get('/v1/audit/keys')).json();
  });
  afterAll(async () => {
    await audit.close();
    await removeIdentity(audit.identity);
  });

  it('acknowledges events once, refuses bad ones with a code, and seals a turn into a receipt that verifies', async () => {
    const caller = new Caller(audit, ada);
    const turnId = newTurnId();
    const started = turnEvent(ada, turnId, 'turn_started');
    const results = await caller.publish([
      started,
      turnEvent(ada, turnId, 'model_invoked', {
        attributes: { model: 'm', tokens: 12, nested: { ok: true, list: [1, 'a', null] } },
      }),
      turnEvent(outsider, turnId, 'model_invoked'),
      turnEvent(ada, turnId, 'model_wished'),
      turnEvent(ada, turnId, 'tool_called', { eventId: 'not-a-uuid' }),
      turnEvent(ada, 'not-a-turn', 'tool_called'),
      turnEvent(ada, turnId, 'tool_called', { service: 'Bad Service' }),
      turnEvent(ada, turnId, 'tool_called', { occurredAt: new Date(Date.now() + 3_600_000) }),
      turnEvent(ada, turnId, 'tool_called', { attributes: { blob: 'x'.repeat(300_000) } }),
      turnEvent(ada, turnId, 'tool_called', {
        artifacts: [{ kind: 'Bad Kind', sha256: 'x', size: 1, contentType: '' }],
      }),
    ]);
    expect(results.map((result) => [result.status, result.code])).toEqual([
      [PublishStatus.ACCEPTED, ''],
      [PublishStatus.ACCEPTED, ''],
      [PublishStatus.REJECTED, 'tenant_mismatch'],
      [PublishStatus.REJECTED, 'event_type_unknown'],
      [PublishStatus.REJECTED, 'event_id_invalid'],
      [PublishStatus.REJECTED, 'turn_id_invalid'],
      [PublishStatus.REJECTED, 'service_invalid'],
      [PublishStatus.REJECTED, 'occurred_at_invalid'],
      [PublishStatus.REJECTED, 'event_too_large'],
      [PublishStatus.REJECTED, 'artifact_invalid'],
    ]);
    // A retry of an acknowledged event is a duplicate, never a second copy.
    expect((await caller.publish([started])).map((result) => result.status)).toEqual([
      PublishStatus.DUPLICATE,
    ]);

    const pending = await caller.get(`/v1/receipts/${turnId}`);
    expect(pending.status).toBe(404);
    expect(pending.json()).toMatchObject({ code: 'receipt_pending' });

    const sealed = turnEvent(ada, turnId, 'turn_sealed', { attributes: { status_code: 200 } });
    expect((await caller.publish([sealed]))[0]?.status).toBe(PublishStatus.ACCEPTED);
    const receipt = await receiptOf(caller, turnId);
    expect(receipt.envelope).toMatchObject({ v: 1, tenant_id: tenant, turn_id: turnId, event_count: 3 });

    const proof = (await caller.get(`/v1/receipts/${turnId}/proof`)).json<ReceiptProof>();
    expect(proof.events.map((event) => event.event['type'])).toEqual([
      'turn_started',
      'model_invoked',
      'turn_sealed',
    ]);
    expect(proof.events[1]?.event['attributes']).toEqual({
      model: 'm',
      tokens: 12,
      nested: { ok: true, list: [1, 'a', null] },
    });
    expect(await verifyReceiptProof(proof, keys)).toMatchObject({ ok: true });

    // The turn is closed: a new event is refused and said so; a retry of a sealed one is still a duplicate.
    const late = await caller.publish([turnEvent(ada, turnId, 'tool_called'), sealed]);
    expect(late.map((result) => [result.status, result.code])).toEqual([
      [PublishStatus.REJECTED, 'turn_already_sealed'],
      [PublishStatus.DUPLICATE, ''],
    ]);
    const single = await caller.log(turnEvent(ada, turnId, 'tool_returned'));
    expect(single).toMatchObject({ status: PublishStatus.REJECTED, code: 'turn_already_sealed' });
  });

  it('lets a user log events only as themselves, and keeps every turn to one user', async () => {
    const turnId = newTurnId();
    const asBob = await new Caller(audit, ada).log(turnEvent(bob, turnId, 'tool_called'));
    expect(asBob).toMatchObject({ status: PublishStatus.REJECTED, code: 'user_mismatch' });

    // A mesh service publishes for whichever user a turn is, but a turn has one user.
    const service = new Caller(audit, { tid: tenant, uid: 'agent-runtime', service: true });
    const results = await service.publish([
      turnEvent(ada, turnId, 'turn_started'),
      turnEvent(bob, turnId, 'tool_called'),
    ]);
    expect(results.map((result) => [result.status, result.code])).toEqual([
      [PublishStatus.ACCEPTED, ''],
      [PublishStatus.REJECTED, 'turn_user_mismatch'],
    ]);
    const later = await service.publish([
      turnEvent(bob, turnId, 'tool_called'),
      turnEvent(ada, turnId, 'tool_called'),
    ]);
    expect(later.map((result) => [result.status, result.code])).toEqual([
      [PublishStatus.REJECTED, 'turn_user_mismatch'],
      [PublishStatus.ACCEPTED, ''],
    ]);
    const replay = (await new Caller(audit, ada).get(`/v1/audit/turns/${turnId}/replay`)).json<{
      events: unknown[];
    }>();
    expect(replay.events).toHaveLength(2);
    expect((await new Caller(audit, bob).get(`/v1/audit/turns/${turnId}/replay`)).status).toBe(404);
  });

  it('links turns into a chain and proves the log only grew', async () => {
    const caller = new Caller(audit, ada);
    const first = await receiptOf(caller, await sealedTurn(caller));
    const checkpoint = (await caller.get('/v1/audit/checkpoint')).text;
    const secondId = await sealedTurn(caller);
    const second = await receiptOf(caller, secondId);
    expect(second.envelope.chain).toEqual({ seq: first.envelope.chain.seq + 1, prev: first.envelope_hash });

    const olderSize = Number(checkpoint.split('\n')[1]);
    const proof = (
      await caller.get(`/v1/receipts/${secondId}/proof?from_size=${olderSize}`)
    ).json<ReceiptProof>();
    expect(proof.consistency).toMatchObject({ from_size: olderSize, to_size: proof.log.tree_size });
    expect(await verifyReceiptProof(proof, keys, { prev: first, checkpoint })).toMatchObject({ ok: true });
    // Given as the previous receipt, an unrelated one fails the chain link.
    const stranger = await receiptOf(caller, await sealedTurn(caller));
    expect(await verifyReceiptProof(proof, keys, { prev: stranger })).toMatchObject({
      ok: false,
      failure: { code: 'chain_link_invalid' },
    });

    const size = Number((await caller.get('/v1/audit/checkpoint')).text.split('\n')[1]);
    for (const bad of ['from_size=0', `from_size=${size + 1}`, 'from_size=abc', 'size=1']) {
      const answer = await caller.get(`/v1/receipts/${secondId}/proof?${bad}`);
      expect(answer.status, bad).toBe(400);
      expect(['invalid_request', 'query_invalid']).toContain(answer.json()['code']);
    }
  });

  it('shows a turn to its user and the tenant admin only', async () => {
    const turnId = await sealedTurn(new Caller(audit, ada));
    await receiptOf(new Caller(audit, ada), turnId);
    const paths = [
      `/v1/receipts/${turnId}`,
      `/v1/receipts/${turnId}/proof`,
      `/v1/audit/turns/${turnId}/replay`,
    ];
    for (const path of paths) {
      expect((await new Caller(audit, admin).get(path)).status, path).toBe(200);
      for (const who of [bob, outsider]) {
        const answer = await new Caller(audit, who).get(path);
        expect(answer.status, `${who.uid} ${path}`).toBe(404);
        expect(answer.json()).toMatchObject({ code: 'turn_unknown' });
      }
    }
    // A checkpoint is always the caller's own tenant's: the outsider's tenant has none.
    const foreign = await new Caller(audit, outsider).get('/v1/audit/checkpoint');
    expect(foreign.status).toBe(404);
    expect(foreign.json()).toMatchObject({ code: 'log_empty' });
    const own = await new Caller(audit, bob).get('/v1/audit/checkpoint');
    expect(own.text.split('\n')[0]).toBe(`aibox.local/audit/${tenant}`);
    expect(own.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  it('stores captured bodies by hash and serves them only as downloads, to whoever may see the turn', async () => {
    const caller = new Caller(audit, ada);
    const turnId = newTurnId();
    const eventId = newTurnId();
    const chunks = [Buffer.from('<script>alert(1)</script>'), Buffer.alloc(200_000, 7), Buffer.from('end')];
    const body = Buffer.concat(chunks);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const stored = await putArtifact(
      audit,
      caller,
      { tenantId: tenant, turnId, eventId, kind: 'model_response', contentType: 'text/html' },
      chunks,
    );
    expect(stored).toEqual({ sha256, size: body.length });
    const event = turnEvent(ada, turnId, 'model_response', {
      eventId,
      artifacts: [
        { kind: 'model_response', sha256, size: body.length, contentType: 'text/html' },
        { kind: 'prompt', sha256: 'ab'.repeat(32), size: 3, contentType: 'application/json' },
      ],
    });
    expect((await caller.publish([event]))[0]?.status).toBe(PublishStatus.ACCEPTED);

    const replay = (await caller.get(`/v1/audit/turns/${turnId}/replay`)).json<{
      events: { artifacts: { kind: string; stored: boolean; url: string }[] }[];
    }>();
    const refs = replay.events[0]?.artifacts ?? [];
    expect(refs.map((ref) => [ref.kind, ref.stored])).toEqual([
      ['model_response', true],
      ['prompt', false],
    ]);
    const download = await caller.get(refs[0]?.url ?? '');
    expect(download.status).toBe(200);
    expect(createHash('sha256').update(download.text, 'latin1').digest('hex')).toHaveLength(64);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment/);
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
    expect(download.headers.get('content-security-policy')).toContain('sandbox');
    expect(download.headers.get('x-aibox-artifact-sha256')).toBe(sha256);
    expect(Number(download.headers.get('content-length'))).toBe(body.length);

    const missing = await caller.get(refs[1]?.url ?? '');
    expect(missing.status).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'artifact_unknown' });
    expect((await new Caller(audit, bob).get(refs[0]?.url ?? '')).status).toBe(404);
    expect((await new Caller(audit, outsider).get(refs[0]?.url ?? '')).status).toBe(404);
    const unknownKind = await caller.get(`/v1/audit/turns/${turnId}/artifacts/${eventId}/tool_output`);
    expect(unknownKind.json()).toMatchObject({ code: 'artifact_unknown' });

    // A header for another tenant, or no header at all, stores nothing.
    await expect(
      putArtifact(audit, caller, { tenantId: outsider.tid, turnId, eventId, kind: 'prompt' }, [
        Buffer.from('x'),
      ]),
    ).rejects.toMatchObject({ details: expect.stringContaining('tenant') as unknown });
  });

  it('lists the tenant turns for admins with filters and pages, and refuses everyone else', async () => {
    const carol: Who = { tid: tenant, uid: 'carol' };
    const ids: string[] = [];
    for (let index = 0; index < 5; index += 1)
      ids.push(
        await sealedTurn(new Caller(audit, carol), [
          'turn_started',
          index % 2 === 0 ? 'tool_called' : 'model_invoked',
        ]),
      );
    const caller = new Caller(audit, admin);
    const first = (await caller.get('/v1/admin/audit/turns?user=carol&limit=2')).json<{
      turns: { turn_id: string; user_id: string; event_count: number }[];
      next_cursor?: string;
    }>();
    expect(first.turns).toHaveLength(2);
    const seen = [...first.turns];
    let cursor = first.next_cursor;
    while (cursor !== undefined) {
      const page = (await caller.get(`/v1/admin/audit/turns?user=carol&limit=2&cursor=${cursor}`)).json<
        typeof first
      >();
      seen.push(...page.turns);
      cursor = page.next_cursor;
    }
    expect(seen.map((turn) => turn.turn_id).sort()).toEqual([...ids].sort());
    expect(seen.every((turn) => turn.user_id === 'carol' && turn.event_count === 3)).toBe(true);
    const tools = (await caller.get('/v1/admin/audit/turns?user=carol&type=tool_called')).json<
      typeof first
    >();
    expect(tools.turns).toHaveLength(3);
    const future = (
      await caller.get(`/v1/admin/audit/turns?from=${new Date(Date.now() + 60_000).toISOString()}`)
    ).json<typeof first>();
    expect(future.turns).toHaveLength(0);

    for (const bad of ['limit=0', 'limit=500', 'type=nope', 'from=yesterday', 'cursor=@@@', 'extra=1']) {
      const answer = await caller.get(`/v1/admin/audit/turns?${bad}`);
      expect(answer.status, bad).toBe(400);
    }
    const user = await new Caller(audit, carol).get('/v1/admin/audit/turns');
    expect(user.status).toBe(403);
    const noCap = await caller.get('/v1/admin/audit/turns', ['audit:read']);
    expect(noCap.status).toBe(403);
    expect(noCap.json()).toMatchObject({ code: 'capability_missing' });
  });

  it('answers malformed ids and unknown turns with a code', async () => {
    const caller = new Caller(audit, ada);
    const bad = await caller.get('/v1/receipts/not-a-uuid');
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'invalid_request' });
    const unknown = await caller.get(`/v1/receipts/${newTurnId()}`);
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'turn_unknown' });
    const noPrincipal = await fetch(`${audit.url}/v1/audit/keys`);
    expect(noPrincipal.status).toBe(401);
  });

  it('re-verifies the whole tenant log for an admin', async () => {
    const report = (await new Caller(audit, admin).get('/v1/admin/audit/verify')).json();
    expect(report, JSON.stringify(report)).toMatchObject({ ok: true, tenant_id: tenant });
    expect(Number(report['turns_checked'])).toBeGreaterThan(5);
    expect(report['turns_checked']).toBe(report['tree_size']);
  });
});

describe('sealing', () => {
  let audit: TestAudit;
  const who: Who = { tid: newTenant(), uid: 'ada' };

  beforeAll(async () => {
    audit = await startAudit(await newAuditIdentity('pglite'), {
      AUDIT_SEAL_IDLE_S: '1',
      AUDIT_CHECKPOINT_MS: '200',
      AUDIT_MAX_TURN_EVENTS: '4',
    });
  });
  afterAll(async () => {
    await audit.close();
    await removeIdentity(audit.identity);
  });

  it('seals turns committed together under one checkpoint that covers them all', async () => {
    const caller = new Caller(audit, who);
    const turnIds = Array.from({ length: 5 }, () => newTurnId());
    const results = await caller.publish(
      turnIds.flatMap((turnId) => [
        turnEvent(who, turnId, 'turn_started'),
        turnEvent(who, turnId, 'turn_sealed'),
      ]),
    );
    expect(results.every((result) => result.status === PublishStatus.ACCEPTED)).toBe(true);
    const receipts = await Promise.all(turnIds.map((turnId) => receiptOf(caller, turnId)));
    expect(new Set(receipts.map((receipt) => receipt.log.checkpoint)).size).toBe(1);
    expect(receipts.map((receipt) => receipt.log.tree_size)).toEqual(turnIds.map(() => 5));
    expect(receipts.map((receipt) => receipt.log.index).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('seals a turn that failed, and one that went quiet', async () => {
    const caller = new Caller(audit, who);
    const failed = newTurnId();
    await caller.publish([turnEvent(who, failed, 'turn_started'), turnEvent(who, failed, 'turn_failed')]);
    const quiet = newTurnId();
    await caller.publish([turnEvent(who, quiet, 'turn_started'), turnEvent(who, quiet, 'model_invoked')]);
    expect((await receiptOf(caller, failed)).envelope.event_count).toBe(2);
    expect((await receiptOf(caller, quiet)).envelope.event_count).toBe(2);
    // Once sealed by idleness the turn is closed like any other.
    const late = await caller.publish([turnEvent(who, quiet, 'turn_sealed')]);
    expect(late[0]).toMatchObject({ status: PublishStatus.REJECTED, code: 'turn_already_sealed' });
  });

  it('caps the events of one turn but still lets it close', async () => {
    const caller = new Caller(audit, who);
    const turnId = newTurnId();
    const first = await caller.publish(
      Array.from({ length: 3 }, () => turnEvent(who, turnId, 'tool_called')),
    );
    expect(first.map((result) => result.status)).toEqual([1, 1, 1].map(() => PublishStatus.ACCEPTED));
    const more = await caller.publish([
      turnEvent(who, turnId, 'tool_called'),
      turnEvent(who, turnId, 'tool_returned'),
      turnEvent(who, turnId, 'turn_sealed'),
    ]);
    expect(more.map((result) => [result.status, result.code])).toEqual([
      [PublishStatus.ACCEPTED, ''],
      [PublishStatus.REJECTED, 'turn_too_large'],
      [PublishStatus.ACCEPTED, ''],
    ]);
    expect((await receiptOf(caller, turnId)).envelope.event_count).toBe(5);
  });

  it('answers a batch over the limit with an error and commits none of it', async () => {
    const caller = new Caller(audit, who);
    const turnId = newTurnId();
    const events = Array.from({ length: 1_001 }, () => turnEvent(who, turnId, 'tool_called'));
    await expect(caller.publish(events)).rejects.toMatchObject({
      details: expect.stringContaining('batch') as unknown,
    });
    const replay = await caller.get(`/v1/audit/turns/${turnId}/replay`);
    expect(replay.status).toBe(404);
  });
});

describe('signing key rotation', () => {
  it('signs new checkpoints with the new key while checkpoints signed before still verify', async () => {
    const identity = await newAuditIdentity('pglite');
    const who: Who = { tid: newTenant(), uid: 'ada' };
    const admin: Who = { tid: who.tid, uid: 'root', roles: ['user', 'admin'] };
    let audit = await startAudit(identity);
    try {
      const before = await receiptOf(new Caller(audit, who), await sealedTurn(new Caller(audit, who)));
      const oldCheckpoint = before.log.checkpoint;
      const oldKeys = (await new Caller(audit, who).get('/v1/audit/keys')).json<{
        keys: { kid: string }[];
      }>();
      await audit.close();

      // The operator puts a new key first and keeps the old one.
      const rotated = {
        ...identity,
        signingKeys: `${generateKeySetValue(['test-audit-2'], 32)},${identity.signingKeys}`,
      };
      audit = await startAudit(rotated);
      const caller = new Caller(audit, who);
      const keys = (await caller.get('/v1/audit/keys')).json<{ keys: { kid: string }[] }>();
      expect(keys.keys).toHaveLength(2);
      expect(keys.keys[1]?.kid).toBe(oldKeys.keys[0]?.kid);

      const afterId = await sealedTurn(caller);
      const after = await receiptOf(caller, afterId);
      const signer = (note: string): string => note.trimEnd().split('\n').at(-1)?.split(' ')[1] ?? '';
      expect(signer(after.log.checkpoint)).toBe(signer(oldCheckpoint));
      expect(after.log.checkpoint.split('\n').at(-2)).not.toBe(oldCheckpoint.split('\n').at(-2));

      const oldSize = Number(oldCheckpoint.split('\n')[1]);
      const proof = (
        await caller.get(`/v1/receipts/${afterId}/proof?from_size=${oldSize}`)
      ).json<ReceiptProof>();
      expect(
        await verifyReceiptProof(proof, keys, { prev: before, checkpoint: oldCheckpoint }),
      ).toMatchObject({ ok: true });
      // With only the old key, the new checkpoint is not trusted.
      expect(await verifyReceiptProof(proof, oldKeys)).toMatchObject({
        ok: false,
        failure: { code: 'checkpoint_key_unknown' },
      });
      expect((await new Caller(audit, admin).get('/v1/admin/audit/verify')).json()).toMatchObject({
        ok: true,
        checkpoints_checked: 2,
      });
    } finally {
      await audit.close();
      await removeIdentity(identity);
    }
  });
});

describe('sealing on request', () => {
  let audit: TestAudit;

  beforeAll(async () => {
    // A long interval: only a turn that asks to be sealed can get a receipt during this test.
    audit = await startAudit(await newAuditIdentity('pglite'), {
      AUDIT_CHECKPOINT_MS: '60000',
      AUDIT_SEAL_IDLE_S: '3600',
    });
  });
  afterAll(async () => {
    await audit.close();
    await removeIdentity(audit.identity);
  });

  it('seals a quiet tenant at once, then holds its next checkpoint for the interval, other tenants unaffected', async () => {
    const first: Who = { tid: newTenant(), uid: 'ada' };
    const second: Who = { tid: newTenant(), uid: 'bob' };
    const ada = new Caller(audit, first);
    // Its turn_sealed wakes the sealer: no waiting for the interval.
    const one = await receiptOf(ada, await sealedTurn(ada));
    expect(one.log.tree_size).toBe(1);

    const twoId = await sealedTurn(ada);
    const bob = new Caller(audit, second);
    const other = await receiptOf(bob, await sealedTurn(bob));
    expect(other.log.tree_size).toBe(1);
    // Ada's tenant had its checkpoint less than an interval ago: her second turn waits for the next one.
    const pending = await ada.get(`/v1/receipts/${twoId}`);
    expect(pending.json()).toMatchObject({ code: 'receipt_pending' });
  });
});
