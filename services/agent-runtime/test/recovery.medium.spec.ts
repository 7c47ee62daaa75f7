import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { HEADER, newTurnId, parseKeySet, signCapToken, signPrincipal } from '@aibox/identity';
import { bootService } from '@aibox/platform';
import { openSqlStore } from '@aibox/stores';
import { freePort } from '@aibox/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  Caller,
  eventually,
  newAuditIdentity,
  removeIdentity,
  startAudit,
  type AuditIdentity,
  type TestAudit,
} from '../../audit/test/support/audit.js';
import { ApprovalRepository } from '../src/repositories/approval.repository.js';
import { RUNTIME_MIGRATIONS, type RuntimeTables } from '../src/repositories/runtime-schema.js';
import { TurnRepository } from '../src/repositories/turn.repository.js';
import { runtimeServiceOptions } from '../src/runtime.app.js';

/**
 * A runtime that crashed mid-turn (here: its store holds a running turn waiting for an approval, as a killed
 * process leaves it) closes that turn on its next start, in its store and in audit.
 */
let identity: AuditIdentity;
let audit: TestAudit;
let dataDir: string;

beforeAll(async () => {
  identity = await newAuditIdentity('pglite');
  audit = await startAudit(identity);
  dataDir = await mkdtemp(join(tmpdir(), 'aibox-runtime-recovery-'));
});

afterAll(async () => {
  await audit.close();
  await removeIdentity(identity);
  await rm(dataDir, { recursive: true, force: true });
});

describe('restart recovery', () => {
  it('fails the turns a crashed process left running and expires their approvals', async () => {
    const tenantId = 'default';
    const turnId = newTurnId();
    const conversationId = newTurnId();
    const approvalId = newTurnId();
    const sql = await openSqlStore<RuntimeTables>({
      service: 'agent-runtime',
      dataDir: join(dataDir, 'agent-runtime', 'pglite'),
    });
    await sql.migrate(RUNTIME_MIGRATIONS);
    await new TurnRepository(sql).start(tenantId, {
      turnId,
      userId: 'ada',
      conversationId,
      agentId: 'default',
      kind: 'chat',
      replayOf: null,
    });
    await new ApprovalRepository(sql).create(tenantId, {
      id: approvalId,
      userId: 'ada',
      turnId,
      conversationId,
      tool: 'current_time',
      arguments: {},
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    await sql.close();

    const runtime = await bootService(
      runtimeServiceOptions({
        PORT: String(await freePort()),
        HOST: '127.0.0.1',
        AIBOX_DATA_DIR: dataDir,
        AIBOX_PRINCIPAL_KEYS: identity.principalKeys,
        AIBOX_CAPTOKEN_KEYS: identity.capTokenKeys,
        AUDIT_GRPC_URL: audit.grpcTarget,
        LOG_LEVEL: 'error',
      }),
    );
    try {
      const principal = signPrincipal(
        {
          tid: tenantId,
          uid: 'ada',
          email: 'ada@example.test',
          roles: ['user'],
          iss: 'https://idp.test',
          sub: 'ada',
        },
        parseKeySet(identity.principalKeys),
      );
      const request = newTurnId();
      const headers = {
        [HEADER.principal]: principal,
        [HEADER.turnId]: request,
        [HEADER.capToken]: signCapToken(
          { turn: request, tid: tenantId, uid: 'ada', caps: ['inference:invoke'] },
          parseKeySet(identity.capTokenKeys),
        ),
      };
      const approval = (await (
        await fetch(`${runtime.httpUrl}/v1/approvals/${approvalId}`, { headers })
      ).json()) as {
        status: string;
      };
      expect(approval.status).toBe('expired');
      const cancel = await fetch(`${runtime.httpUrl}/v1/chat/${turnId}/cancel`, { method: 'POST', headers });
      expect(cancel.status).toBe(409);
      expect(await cancel.json()).toMatchObject({ code: 'turn_not_running' });

      // A turn id is used once: a request reusing it (only a caller bypassing the gateway could) is refused.
      const reused = await fetch(`${runtime.httpUrl}/v1/chat`, {
        method: 'POST',
        headers: {
          ...headers,
          [HEADER.turnId]: turnId,
          [HEADER.capToken]: signCapToken(
            { turn: turnId, tid: tenantId, uid: 'ada', caps: ['inference:invoke'] },
            parseKeySet(identity.capTokenKeys),
          ),
          'content-type': 'application/json',
        },
        body: JSON.stringify({ message: 'again' }),
      });
      expect(reused.status).toBe(409);
      expect(await reused.json()).toMatchObject({ code: 'conflict' });

      // Audit has the turn closed as failed, so its receipt is there without waiting for idle sealing.
      const owner = new Caller(audit, { tid: tenantId, uid: 'ada' });
      const replay = await eventually(async () => {
        const answer = await owner.get(`/v1/audit/turns/${turnId}/replay`);
        return answer.status === 200
          ? answer.json<{ events: { event: { type: string; attributes: unknown } }[] }>()
          : undefined;
      });
      expect(replay.events.at(-1)?.event).toMatchObject({
        type: 'turn_failed',
        attributes: { code: 'runtime_restarted' },
      });
    } finally {
      await runtime.close();
    }
  });
});
