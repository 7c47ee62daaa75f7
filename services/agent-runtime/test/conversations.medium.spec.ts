import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';

import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { newTurnId, type Principal } from '@aibox/identity';
import { openSqlStore, type SqlStore } from '@aibox/stores';
import { needs, postgresUrl } from '@aibox/testing';

import { RuntimeError } from '../src/errors/runtime.error.js';
import { ConversationRepository } from '../src/repositories/conversation.repository.js';
import { RUNTIME_MIGRATIONS, type RuntimeTables } from '../src/repositories/runtime-schema.js';
import type { ContentPart, NewMessage } from '../src/services/conversation.js';
import { ConversationsService } from '../src/services/conversations.service.js';

const postgres = await needs('postgres');
const DAY_MS = 86_400_000;

/** One place the runtime's tables live, with the database role the service connects as. */
interface Target {
  readonly name: string;
  open(): Promise<SqlStore<RuntimeTables>>;
  cleanup(): Promise<void>;
}

async function asSuperuser(statements: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl(), connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await statements(client);
  } finally {
    await client.end();
  }
}

const pgliteTarget: Target = {
  name: 'PGlite (superuser)',
  open: () => openSqlStore<RuntimeTables>({ service: 'agent-runtime' }),
  cleanup: () => Promise.resolve(),
};

/** PostgreSQL as the URL's role (`postgres` in CI: a superuser, which bypasses row-level security). */
function postgresTarget(): Target {
  const schema = `agent_t${randomBytes(6).toString('hex')}`;
  return {
    name: 'PostgreSQL (superuser)',
    open: () =>
      openSqlStore<RuntimeTables>({
        service: 'agent-runtime',
        databaseUrl: postgresUrl(),
        schema,
        maxConnections: 8,
      }),
    cleanup: () =>
      asSuperuser(async (client) => {
        await client.query(`drop schema if exists "${schema}" cascade`);
      }),
  };
}

/**
 * PostgreSQL as a plain login role that owns the tables but neither is a superuser nor has BYPASSRLS, as a
 * production deployment may run: forced row-level security hides every row from it outside a tenant.
 */
function postgresOwnerTarget(): Target {
  const name = `agent_t${randomBytes(6).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  const database = new URL(postgresUrl()).pathname.slice(1);
  return {
    name: 'PostgreSQL (owner role without BYPASSRLS)',
    async open() {
      await asSuperuser(async (client) => {
        await client.query(`create role "${name}" login nosuperuser nobypassrls password '${password}'`);
        // The store creates the tenant role when it may; this role may not, so it is made (and granted) here.
        await client.query(`do $$ begin
          create role aibox_tenant nologin nosuperuser nobypassrls;
        exception when duplicate_object or unique_violation then null;
        end $$`);
        await client.query(`grant aibox_tenant to "${name}"`);
        await client.query(`grant create on database "${database}" to "${name}"`);
      });
      const url = new URL(postgresUrl());
      url.username = name;
      url.password = password;
      return openSqlStore<RuntimeTables>({
        service: 'agent-runtime',
        databaseUrl: url.toString(),
        schema: name,
        maxConnections: 8,
      });
    },
    cleanup: () =>
      asSuperuser(async (client) => {
        await client.query(`drop schema if exists "${name}" cascade`);
        await client.query(`drop owned by "${name}"`);
        await client.query(`drop role if exists "${name}"`);
      }),
  };
}

const TARGETS: Target[] = [pgliteTarget, ...(postgres ? [postgresTarget(), postgresOwnerTarget()] : [])];

function principal(tid: string, uid: string): Principal {
  return { tid, uid, email: `${uid}@example.test`, roles: [], iss: 'test', sub: uid, iat: 0, exp: 0 };
}

function userMessage(content: NewMessage['content'], turnId: string | null = newTurnId()): NewMessage {
  return { id: newTurnId(), turnId, role: 'user', content, status: 'complete' };
}

function assistantMessage(text: string, turnId: string | null): NewMessage {
  return { id: newTurnId(), turnId, role: 'assistant', content: text, status: 'complete' };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** What a client sees of an error: its class, code and message. */
function answer(error: unknown): { kind: string; code: string; message: string } {
  if (!(error instanceof RuntimeError)) throw new Error(`expected a RuntimeError, got ${String(error)}`);
  return { kind: error.name, code: error.code, message: error.message };
}

describe.each(TARGETS)('conversations on $name', { timeout: 120_000 }, (target) => {
  let store: SqlStore<RuntimeTables>;
  let repository: ConversationRepository;
  let service: ConversationsService;
  /** Every test works in tenants of its own, so the tests do not see each other's rows. */
  const tenant = () => `tenant-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    store = await target.open();
    await store.migrate(RUNTIME_MIGRATIONS);
    repository = new ConversationRepository(store);
    service = new ConversationsService(repository);
  });
  afterAll(async () => {
    await store.close();
    await target.cleanup();
  });

  const newConversation = (tid: string, userId: string, title: string | null = null) =>
    repository.create(tid, { id: newTurnId(), userId, agentId: 'agent-default', title });

  /** Rows as they are, deleted or not: the test's own look behind the repository. */
  const rawConversation = (tid: string, id: string) =>
    store
      .forTenant(tid)
      .transaction((trx) =>
        trx.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst(),
      );
  const rawMessageCount = (tid: string, conversationId: string) =>
    store.forTenant(tid).transaction(async (trx) => {
      const row = await trx
        .selectFrom('messages')
        .select(sql<string>`count(*)::int4`.as('n'))
        .where('conversation_id', '=', conversationId)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    });

  describe('listing', () => {
    it('pages newest activity first, without duplicates or gaps, across pages', async () => {
      const tid = tenant();
      const created = [];
      for (let index = 0; index < 7; index += 1) {
        created.push(await newConversation(tid, 'ann', `chat ${index}`));
      }
      // Activity moves an old conversation to the top. PGlite's clock counts whole milliseconds: without the
      // pause the append could share the last creation's instant, and the tie would go to the newer id.
      await delay(5);
      const revived = created[1];
      if (revived === undefined) throw new Error('no conversation');
      await repository.append(tid, revived.id, [userMessage('back again')]);
      const expected = [
        revived.id,
        ...created
          .map((c) => c.id)
          .filter((id) => id !== revived.id)
          .reverse(),
      ];

      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await repository.list(tid, 'ann', {
          limit: 3,
          ...(cursor === undefined ? {} : { cursor }),
        });
        expect(page.items.length).toBeLessThanOrEqual(3);
        seen.push(...page.items.map((item) => item.id));
        cursor = page.nextCursor ?? undefined;
        pages += 1;
      } while (cursor !== undefined && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(expected);
    });

    it('keeps conversations with the same activity time apart, ordered by id', async () => {
      const tid = tenant();
      const ids: string[] = [];
      for (let index = 0; index < 5; index += 1) ids.push((await newConversation(tid, 'ann')).id);
      await store.forTenant(tid).transaction((trx) =>
        trx
          .updateTable('conversations')
          .set({ updated_at: sql`'2030-01-01T00:00:00.123456Z'::timestamptz` })
          .execute(),
      );
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await repository.list(tid, 'ann', { limit: 2, ...(cursor === null ? {} : { cursor }) });
        seen.push(...page.items.map((item) => item.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      expect(seen).toEqual([...ids].sort().reverse());
    });

    it('finds conversations by a case-insensitive part of the title, % and _ taken literally', async () => {
      const tid = tenant();
      const titles = ['100% done', '1000 done', 'Budget_2024', 'Budget-2024', 'Alpha plan', null];
      for (const title of titles) await newConversation(tid, 'ann', title);
      const titlesFor = async (query: string) =>
        (await repository.list(tid, 'ann', { limit: 100, query })).items.map((item) => item.title).sort();

      expect(await titlesFor('%')).toEqual(['100% done']);
      expect(await titlesFor('0%')).toEqual(['100% done']);
      expect(await titlesFor('budget_')).toEqual(['Budget_2024']);
      expect(await titlesFor('BUDGET')).toEqual(['Budget-2024', 'Budget_2024']);
      expect(await titlesFor('alpha')).toEqual(['Alpha plan']);
      expect(await titlesFor('\\')).toEqual([]);
      expect(await titlesFor('')).toHaveLength(titles.length);

      const page = await service.list(principal(tid, 'ann'), { limit: 20, q: '100%' });
      expect(page).toEqual({
        data: [expect.objectContaining({ title: '100% done', agent_id: 'agent-default', forked_from: null })],
        next_cursor: null,
      });
    });

    it('refuses a cursor it did not hand out', async () => {
      const error = await rejection(
        repository.list(tenant(), 'ann', { limit: 5, cursor: 'bm90LWEtY3Vyc29y' }),
      );
      expect(error).toMatchObject({ code: 'invalid_request', httpStatus: 400 });
    });
  });

  describe('isolation', () => {
    it("answers another user's conversation exactly like a missing one, and leaves it untouched", async () => {
      const tid = tenant();
      const owner = principal(tid, 'ann');
      const other = principal(tid, 'bob');
      const conversation = await newConversation(tid, 'ann', 'private plans');
      const [message] = await repository.append(tid, conversation.id, [userMessage('secret')]);
      if (message === undefined) throw new Error('no message');
      const missing = newTurnId();

      const attempts = (who: Principal, id: string) => [
        service.get(who, id),
        service.rename(who, id, 'taken over'),
        service.remove(who, id),
        service.fork(who, id, message.id),
        service.export(who, id, 'json'),
        service.export(who, id, 'markdown'),
      ];
      const foreign = await Promise.all(
        attempts(other, conversation.id).map((attempt) => rejection(attempt)),
      );
      const absent = await Promise.all(attempts(other, missing).map((attempt) => rejection(attempt)));
      expect(foreign.map(answer)).toEqual(absent.map(answer));
      expect(answer(foreign[0])).toEqual({
        kind: 'RuntimeError',
        code: 'conversation_unknown',
        message: 'No such conversation.',
      });
      expect((await service.list(other, { limit: 20 })).data).toEqual([]);

      const intact = await service.get(owner, conversation.id);
      expect(intact).toMatchObject({ id: conversation.id, title: 'private plans' });
      expect(intact.messages.map((m) => m.content)).toEqual(['secret']);
      expect((await service.list(owner, { limit: 20 })).data.map((c) => c.id)).toEqual([conversation.id]);
    });

    it("never shows or changes another tenant's conversation, even for the same user id", async () => {
      const home = tenant();
      const away = tenant();
      const conversation = await newConversation(home, 'ann', 'home');
      await repository.append(home, conversation.id, [userMessage('hello')]);

      expect(await repository.get(away, 'ann', conversation.id)).toBeUndefined();
      expect(await repository.messages(away, conversation.id)).toEqual([]);
      expect((await repository.list(away, 'ann', { limit: 10 })).items).toEqual([]);
      expect(
        answer(await rejection(repository.append(away, conversation.id, [userMessage('x')]))),
      ).toMatchObject({
        code: 'conversation_unknown',
      });
      expect(await repository.setTitle(away, conversation.id, 'renamed', { onlyIfEmpty: false })).toBe(false);
      expect(await repository.softDelete(away, 'ann', conversation.id)).toBe(false);
      expect(answer(await rejection(service.get(principal(away, 'ann'), conversation.id))).code).toBe(
        'conversation_unknown',
      );

      expect(await repository.get(home, 'ann', conversation.id)).toMatchObject({ title: 'home' });
      expect(await repository.messages(home, conversation.id)).toHaveLength(1);
    });
  });

  describe('messages', () => {
    it('gives concurrent appends distinct, consecutive sequence numbers in call order within each', async () => {
      const tid = tenant();
      const conversation = await newConversation(tid, 'ann');
      const batches = Array.from({ length: 6 }, (_, index) => [
        userMessage(`question ${index}`),
        assistantMessage(`answer ${index}`, null),
      ]);
      const results = await Promise.all(
        batches.map((batch) => repository.append(tid, conversation.id, batch)),
      );

      for (const stored of results) {
        const [first, second] = stored;
        expect(second?.seq).toBe((first?.seq ?? 0) + 1);
        expect(stored.map((m) => m.role)).toEqual(['user', 'assistant']);
      }
      const seqs = results.flat().map((m) => m.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, index) => index + 1));
      const listed = await repository.messages(tid, conversation.id);
      expect(listed.map((m) => m.seq)).toEqual(Array.from({ length: 12 }, (_, index) => index + 1));
    });

    it('stores content parts, images and awkward text exactly as given', async () => {
      const tid = tenant();
      const conversation = await newConversation(tid, 'ann');
      const dataUrl = `data:image/png;base64,${randomBytes(3000).toString('base64')}`;
      const parts: ContentPart[] = [
        { type: 'text', text: 'Compare "these" \\ two </script> 😀 — ünïcödé' },
        { type: 'image_url', image_url: { url: 'https://example.test/a.png?x=1&y=(2)', detail: 'high' } },
        { type: 'image_url', image_url: { url: dataUrl } },
      ];
      const turnId = newTurnId();
      const toolCall = {
        id: 'call_1',
        type: 'function' as const,
        function: { name: 'web_search', arguments: '{"q":"naïve \\"quotes\\""}' },
      };
      const sent: NewMessage[] = [
        userMessage(parts, turnId),
        {
          id: newTurnId(),
          turnId,
          role: 'assistant',
          content: '',
          toolCalls: [toolCall],
          status: 'complete',
        },
        {
          id: newTurnId(),
          turnId,
          role: 'tool',
          content: '{"looks":"like json"}',
          toolCallId: 'call_1',
          status: 'complete',
        },
        assistantMessage('null', turnId),
      ];
      await repository.append(tid, conversation.id, sent);
      const stored = await repository.messages(tid, conversation.id);
      expect(
        stored.map(({ id, turnId: turn, role, content, toolCalls, toolCallId, status }) => ({
          id,
          turnId: turn,
          role,
          content,
          ...(toolCalls === undefined ? {} : { toolCalls }),
          ...(toolCallId === undefined ? {} : { toolCallId }),
          status,
        })),
      ).toEqual(sent);

      const detail = await service.get(principal(tid, 'ann'), conversation.id);
      expect(detail.messages[0]?.content).toEqual(parts);
      expect(detail.messages[1]).toMatchObject({ tool_calls: [toolCall], tool_call_id: null });
      expect(detail.messages[2]).toMatchObject({ content: '{"looks":"like json"}', tool_call_id: 'call_1' });
    });

    it('stores text PostgreSQL cannot hold by dropping NUL and replacing unpaired surrogates', async () => {
      const tid = tenant();
      const conversation = await newConversation(tid, 'ann', 'nul\u0000title');
      await repository.append(tid, conversation.id, [
        userMessage([{ type: 'text', text: 'a\u0000b \ud800 c' }]),
        {
          id: newTurnId(),
          turnId: null,
          role: 'tool',
          content: 'x\u0000y',
          toolCallId: 'call\u00001',
          status: 'complete',
        },
      ]);
      const [parts, tool] = await repository.messages(tid, conversation.id);
      expect(parts?.content).toEqual([{ type: 'text', text: 'ab \ufffd c' }]);
      expect(tool).toMatchObject({ content: 'xy', toolCallId: 'call1' });
      expect((await repository.get(tid, 'ann', conversation.id))?.title).toBe('nultitle');
    });

    it("keeps each tool result's outcome, and shows a result stored before outcomes were kept as unknown", async () => {
      const tid = tenant();
      const ann = principal(tid, 'ann');
      const conversation = await newConversation(tid, 'ann');
      const turnId = newTurnId();
      const toolResult = (
        callId: string,
        content: string,
        outcome?: NewMessage['toolOutcome'],
      ): NewMessage => ({
        id: newTurnId(),
        turnId,
        role: 'tool',
        content,
        toolCallId: callId,
        ...(outcome === undefined ? {} : { toolOutcome: outcome }),
        status: 'complete',
      });
      await repository.append(tid, conversation.id, [
        userMessage('run them', turnId),
        {
          id: newTurnId(),
          turnId,
          role: 'assistant',
          content: '',
          toolCalls: ['c_ok', 'c_failed', 'c_denied'].map((id) => ({
            id,
            type: 'function' as const,
            function: { name: 'sandbox_exec', arguments: '{}' },
          })),
          status: 'complete',
        },
        toolResult('c_ok', '42', { ok: true, code: null }),
        toolResult('c_failed', 'exit 1', { ok: false, code: 'tool_failed' }),
        toolResult('c_denied', 'The user did not approve this tool call, so it was not run.', {
          ok: false,
          code: 'tool_denied',
        }),
      ]);
      // A row as the runtime wrote it before migration 0003: no outcome column in the insert at all.
      await store.forTenant(tid).transaction((trx) =>
        sql`insert into messages (id, tenant_id, conversation_id, turn_id, seq, role, content, tool_call_id, status)
            values (${newTurnId()}, ${tid}, ${conversation.id}, ${turnId}, 6, 'tool', ${JSON.stringify('old')}::jsonb,
                    'c_old', 'complete')`.execute(trx),
      );

      const stored = await repository.messages(tid, conversation.id);
      expect(stored.slice(2).map((message) => [message.toolCallId, message.toolOutcome])).toEqual([
        ['c_ok', { ok: true, code: null }],
        ['c_failed', { ok: false, code: 'tool_failed' }],
        ['c_denied', { ok: false, code: 'tool_denied' }],
        ['c_old', undefined],
      ]);

      const detail = await service.get(ann, conversation.id);
      expect(detail.messages.map((message) => [message.role, message.tool_outcome])).toEqual([
        ['user', null],
        ['assistant', null],
        ['tool', { ok: true, code: null }],
        ['tool', { ok: false, code: 'tool_failed' }],
        ['tool', { ok: false, code: 'tool_denied' }],
        ['tool', null],
      ]);
      const exported = await service.export(ann, conversation.id, 'json');
      expect(exported.format === 'json' && exported.document.messages.map((m) => m.tool_outcome)).toEqual(
        detail.messages.map((message) => message.tool_outcome),
      );
    });

    it('completes a partial answer in place and refuses an unknown message', async () => {
      const tid = tenant();
      const conversation = await newConversation(tid, 'ann');
      const turnId = newTurnId();
      const partial: NewMessage = { ...assistantMessage('Half an ans', turnId), status: 'partial' };
      await repository.append(tid, conversation.id, [userMessage('ask', turnId), partial]);
      await repository.replaceMessage(tid, conversation.id, {
        ...partial,
        content: 'Half an answer, then the rest.',
        toolCalls: [{ id: 'c', type: 'function', function: { name: 'clock', arguments: '{}' } }],
        status: 'complete',
      });
      const [, answered] = await repository.messages(tid, conversation.id);
      expect(answered).toMatchObject({
        id: partial.id,
        seq: 2,
        content: 'Half an answer, then the rest.',
        toolCalls: [{ id: 'c' }],
        status: 'complete',
      });
      expect(
        answer(await rejection(repository.replaceMessage(tid, conversation.id, userMessage('x')))).code,
      ).toBe('message_unknown');
    });
  });

  describe('titles', () => {
    it('sets a generated title only while there is none, and renames on request', async () => {
      const tid = tenant();
      const conversation = await newConversation(tid, 'ann');
      expect(await repository.setTitle(tid, conversation.id, 'Generated', { onlyIfEmpty: true })).toBe(true);
      expect(await repository.setTitle(tid, conversation.id, 'Second guess', { onlyIfEmpty: true })).toBe(
        false,
      );
      expect((await repository.get(tid, 'ann', conversation.id))?.title).toBe('Generated');

      const renamed = await service.rename(principal(tid, 'ann'), conversation.id, 'Mine');
      expect(renamed).toMatchObject({ id: conversation.id, title: 'Mine' });
      expect(await repository.setTitle(tid, conversation.id, 'Generated again', { onlyIfEmpty: true })).toBe(
        false,
      );
      expect(await repository.setTitle(tid, conversation.id, 'Forced', { onlyIfEmpty: false })).toBe(true);
    });
  });

  describe('forks', () => {
    it('copies the messages up to and including the chosen one into a new conversation', async () => {
      const tid = tenant();
      const ann = principal(tid, 'ann');
      const source = await newConversation(tid, 'ann', 'Trip');
      const first = newTurnId();
      const second = newTurnId();
      const stored = await repository.append(tid, source.id, [
        userMessage(
          [
            { type: 'text', text: 'plan' },
            { type: 'image_url', image_url: { url: 'https://x.test/m.png' } },
          ],
          first,
        ),
        {
          id: newTurnId(),
          turnId: first,
          role: 'assistant',
          content: '',
          toolCalls: [{ id: 'call_9', type: 'function', function: { name: 'map', arguments: '{"z":3}' } }],
          status: 'complete',
        },
        {
          id: newTurnId(),
          turnId: first,
          role: 'tool',
          content: 'map data',
          toolCallId: 'call_9',
          toolOutcome: { ok: false, code: 'tool_timeout' },
          status: 'complete',
        },
        assistantMessage('Here is the plan', first),
        userMessage('and later?', second),
      ]);
      const at = stored[3];
      if (at === undefined) throw new Error('no message');

      const fork = await service.fork(ann, source.id, at.id);
      expect(fork).toMatchObject({
        title: 'Trip (fork)',
        agent_id: 'agent-default',
        forked_from: { conversation_id: source.id, message_id: at.id },
      });
      expect(fork.id).not.toBe(source.id);

      const copy = await service.get(ann, fork.id);
      const original = (await service.get(ann, source.id)).messages.slice(0, 4);
      expect(copy.messages).toHaveLength(4);
      expect(copy.messages[2]?.tool_outcome).toEqual({ ok: false, code: 'tool_timeout' });
      expect(copy.messages.map(({ id: _id, ...rest }) => rest)).toEqual(
        original.map(({ id: _id, ...rest }) => rest),
      );
      const originalIds = new Set(original.map((m) => m.id));
      expect(copy.messages.every((m) => !originalIds.has(m.id))).toBe(true);

      // The fork goes on by itself; the source keeps all of its messages.
      await repository.append(tid, fork.id, [userMessage('a different question')]);
      expect((await repository.messages(tid, fork.id)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(await repository.messages(tid, source.id)).toHaveLength(5);
    });

    it('leaves an untitled fork untitled and refuses a message of another conversation', async () => {
      const tid = tenant();
      const ann = principal(tid, 'ann');
      const untitled = await newConversation(tid, 'ann');
      const [message] = await repository.append(tid, untitled.id, [userMessage('hi')]);
      if (message === undefined) throw new Error('no message');
      expect((await service.fork(ann, untitled.id, message.id)).title).toBeNull();

      const elsewhere = await newConversation(tid, 'ann');
      expect(answer(await rejection(service.fork(ann, elsewhere.id, message.id)))).toMatchObject({
        code: 'message_unknown',
      });
      expect(answer(await rejection(service.fork(ann, untitled.id, newTurnId()))).code).toBe(
        'message_unknown',
      );
      expect((await service.list(ann, { limit: 20 })).data).toHaveLength(3);
    });
  });

  describe('deletion', () => {
    it('hides a deleted conversation from every read and write at once', async () => {
      const tid = tenant();
      const ann = principal(tid, 'ann');
      const conversation = await newConversation(tid, 'ann', 'to go');
      const [message] = await repository.append(tid, conversation.id, [userMessage('bye')]);
      if (message === undefined) throw new Error('no message');

      await service.remove(ann, conversation.id);
      expect(answer(await rejection(service.remove(ann, conversation.id))).code).toBe('conversation_unknown');
      expect(await repository.get(tid, 'ann', conversation.id)).toBeUndefined();
      expect(await repository.messages(tid, conversation.id)).toEqual([]);
      expect((await repository.list(tid, 'ann', { limit: 10 })).items).toEqual([]);
      expect(await repository.rename(tid, 'ann', conversation.id, 'back')).toBeUndefined();
      expect(await repository.setTitle(tid, conversation.id, 'back', { onlyIfEmpty: false })).toBe(false);
      expect(answer(await rejection(repository.append(tid, conversation.id, [userMessage('x')]))).code).toBe(
        'conversation_unknown',
      );
      expect(answer(await rejection(service.fork(ann, conversation.id, message.id))).code).toBe(
        'conversation_unknown',
      );
      expect(answer(await rejection(service.export(ann, conversation.id, 'json'))).code).toBe(
        'conversation_unknown',
      );
      // Still stored, until the purge.
      expect(await rawConversation(tid, conversation.id)).toMatchObject({ title: 'to go' });
      expect(await rawMessageCount(tid, conversation.id)).toBe(1);
    });

    it('purges, across tenants, what was deleted before the cut-off with its messages, and nothing newer', async () => {
      const tenants = [tenant(), tenant()];
      const old: { tid: string; id: string }[] = [];
      const recent: { tid: string; id: string }[] = [];
      const live: { tid: string; id: string }[] = [];
      for (const tid of tenants) {
        for (const bucket of [old, recent, live]) {
          const conversation = await newConversation(tid, 'ann');
          await repository.append(tid, conversation.id, [userMessage('one'), assistantMessage('two', null)]);
          bucket.push({ tid, id: conversation.id });
        }
      }
      for (const { tid, id } of [...old, ...recent]) {
        expect(await repository.softDelete(tid, 'ann', id)).toBe(true);
      }
      for (const { tid, id } of old) {
        await store.forTenant(tid).transaction((trx) =>
          trx
            .updateTable('conversations')
            .set({ deleted_at: new Date(Date.now() - 10 * DAY_MS) })
            .where('id', '=', id)
            .execute(),
        );
      }

      expect(await repository.purge(new Date(Date.now() - 7 * DAY_MS))).toBe(old.length);

      for (const { tid, id } of old) {
        expect(await rawConversation(tid, id)).toBeUndefined();
        expect(await rawMessageCount(tid, id)).toBe(0);
      }
      for (const { tid, id } of recent) {
        expect((await rawConversation(tid, id))?.deleted_at).toBeInstanceOf(Date);
        expect(await rawMessageCount(tid, id)).toBe(2);
      }
      for (const { tid, id } of live) {
        expect(await repository.messages(tid, id)).toHaveLength(2);
      }
      expect(await repository.purge(new Date(Date.now() - 7 * DAY_MS))).toBe(0);
    });

    it('leaves row-level security forced on the tables after a purge', async () => {
      await repository.purge(new Date());
      const forced = await sql<{ relname: string; relforcerowsecurity: boolean }>`
        select relname, relforcerowsecurity from pg_class
        where relnamespace = ${store.schema}::regnamespace and relname in ('conversations', 'messages')
        order by relname`.execute(store.db);
      expect(forced.rows).toEqual([
        { relname: 'conversations', relforcerowsecurity: true },
        { relname: 'messages', relforcerowsecurity: true },
      ]);
    });
  });

  describe('export', () => {
    it('exports a versioned JSON document and a Markdown transcript with a safe file name', async () => {
      const tid = tenant();
      const ann = principal(tid, 'ann');
      const conversation = await newConversation(tid, 'ann', 'Q3 "report" / draft');
      await repository.append(tid, conversation.id, [
        userMessage([
          { type: 'text', text: 'Summarise' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        ]),
        assistantMessage('Sales grew.', null),
      ]);

      const json = await service.export(ann, conversation.id, 'json');
      expect(json).toMatchObject({
        format: 'json',
        filename: 'Q3-report-draft.json',
        document: {
          version: 1,
          conversation: { id: conversation.id, title: 'Q3 "report" / draft', forked_from: null },
          messages: [
            { role: 'user', content: [{ type: 'text', text: 'Summarise' }, expect.anything()] },
            { role: 'assistant', content: 'Sales grew.', tool_calls: null, status: 'complete' },
          ],
        },
      });

      const markdown = await service.export(ann, conversation.id, 'markdown');
      if (markdown.format !== 'markdown') throw new Error('expected markdown');
      expect(markdown.filename).toBe('Q3-report-draft.md');
      expect(markdown.body).toContain('# Q3 "report" / draft');
      expect(markdown.body).toContain('## User\n\nSummarise\n\n[image]');
      expect(markdown.body).toContain('## Assistant\n\nSales grew.');
      expect(markdown.body).not.toContain('base64');
    });
  });
});
