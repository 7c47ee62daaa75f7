import { Module } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  generateKeySetValue,
  HEADER,
  newTurnId,
  parseKeySet,
  signPrincipal,
  type KeySet,
} from '@aibox/identity';
import { bootService, CLOSEABLES, type BootedService, type Closeables } from '@aibox/platform';
import { openSqlStore, type SqlStore } from '@aibox/stores';
import { freePortPair } from '@aibox/testing';

import { runtimeConfigSchema } from '../src/config/runtime-config.schema.js';
import { CONVERSATION_CONTROLLERS, CONVERSATION_PROVIDERS } from '../src/conversations.providers.js';
import { ConversationRepository } from '../src/repositories/conversation.repository.js';
import { RUNTIME_MIGRATIONS, type RuntimeTables } from '../src/repositories/runtime-schema.js';
import { RUNTIME_SQL } from '../src/runtime.tokens.js';

/** The conversation routes alone, on embedded PGlite, behind the platform's guard, pipes and error filter. */
@Module({
  controllers: [...CONVERSATION_CONTROLLERS],
  providers: [
    {
      provide: RUNTIME_SQL,
      inject: [CLOSEABLES],
      useFactory: async (closeables: Closeables): Promise<SqlStore<RuntimeTables>> => {
        const sql = closeables.add('sql', await openSqlStore<RuntimeTables>({ service: 'agent-runtime' }));
        await sql.migrate(RUNTIME_MIGRATIONS);
        return sql;
      },
    },
    ...CONVERSATION_PROVIDERS,
  ],
})
class ConversationRoutesModule {}

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: Record<string, unknown>;
}

describe('conversation routes', { timeout: 120_000 }, () => {
  let service: BootedService;
  let keys: KeySet;
  let repository: ConversationRepository;

  beforeAll(async () => {
    const principalValue = generateKeySetValue(['k-principal']);
    keys = parseKeySet(principalValue);
    const port = await freePortPair();
    service = await bootService({
      name: 'agent-runtime',
      module: ConversationRoutesModule,
      configSchema: runtimeConfigSchema,
      env: {
        PORT: String(port),
        HOST: '127.0.0.1',
        AIBOX_PRINCIPAL_KEYS: principalValue,
        AIBOX_CAPTOKEN_KEYS: generateKeySetValue(['k-captoken']),
        LOG_LEVEL: 'warn',
      },
      logDestination: { write: () => undefined },
    });
    repository = service.app.get(ConversationRepository);
  });
  afterAll(async () => {
    await service.close();
  });

  async function call(uid: string, method: string, path: string, body?: unknown): Promise<Reply> {
    const principal = signPrincipal(
      { tid: 'tenant-http', uid, email: `${uid}@example.test`, roles: [], iss: 'test', sub: uid },
      keys,
    );
    const response = await fetch(`${service.httpUrl}${path}`, {
      method,
      headers: {
        [HEADER.principal]: principal,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    const json = response.headers.get('content-type')?.includes('application/json')
      ? (JSON.parse(text) as Record<string, unknown>)
      : {};
    return { status: response.status, headers: response.headers, text, json };
  }

  async function seeded(uid: string, title: string | null) {
    const conversation = await repository.create('tenant-http', {
      id: newTurnId(),
      userId: uid,
      agentId: 'agent-default',
      title,
    });
    const messages = await repository.append('tenant-http', conversation.id, [
      { id: newTurnId(), turnId: null, role: 'user', content: 'Hello there', status: 'complete' },
      { id: newTurnId(), turnId: null, role: 'assistant', content: 'Hi!', status: 'complete' },
    ]);
    return { conversation, messages };
  }

  it('lists, reads, renames, forks, exports and deletes a conversation', async () => {
    const { conversation, messages } = await seeded('ann', 'Plans for May');
    const id = conversation.id;

    const list = await call('ann', 'GET', '/v1/conversations?limit=5&q=may');
    expect(list.status).toBe(200);
    expect(list.json).toEqual({
      data: [
        {
          id,
          title: 'Plans for May',
          agent_id: 'agent-default',
          forked_from: null,
          created_at: conversation.createdAt.toISOString(),
          updated_at: expect.any(String) as unknown,
        },
      ],
      next_cursor: null,
    });

    const read = await call('ann', 'GET', `/v1/conversations/${id.toUpperCase()}`);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ id, title: 'Plans for May' });
    expect(read.json['messages']).toEqual([
      {
        id: messages[0]?.id,
        turn_id: null,
        role: 'user',
        content: 'Hello there',
        tool_calls: null,
        tool_call_id: null,
        tool_outcome: null,
        status: 'complete',
        created_at: messages[0]?.createdAt.toISOString(),
      },
      expect.objectContaining({ role: 'assistant', content: 'Hi!' }) as unknown,
    ]);

    const renamed = await call('ann', 'PATCH', `/v1/conversations/${id}`, { title: '  June instead ' });
    expect(renamed).toMatchObject({ status: 200, json: { id, title: 'June instead' } });

    const fork = await call('ann', 'POST', `/v1/conversations/${id}/fork`, { message_id: messages[0]?.id });
    expect(fork).toMatchObject({
      status: 201,
      json: {
        title: 'June instead (fork)',
        forked_from: { conversation_id: id, message_id: messages[0]?.id },
      },
    });

    const markdown = await call('ann', 'GET', `/v1/conversations/${id}/export?format=markdown`);
    expect(markdown.status).toBe(200);
    expect(markdown.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    expect(markdown.headers.get('content-disposition')).toBe('attachment; filename="June instead.md"');
    expect(markdown.text).toContain('# June instead\n');
    expect(markdown.text).toContain('## User\n\nHello there\n\n## Assistant\n\nHi!\n');

    const json = await call('ann', 'GET', `/v1/conversations/${id}/export`);
    expect(json.status).toBe(200);
    expect(json.headers.get('content-disposition')).toBe('attachment; filename="June instead.json"');
    expect(json.json).toMatchObject({ version: 1, conversation: { id }, messages: [{}, {}] });

    const removed = await call('ann', 'DELETE', `/v1/conversations/${id}`);
    expect(removed.status).toBe(204);
    expect(removed.text).toBe('');
    expect(await call('ann', 'GET', `/v1/conversations/${id}`)).toMatchObject({
      status: 404,
      json: { code: 'conversation_unknown' },
    });
  });

  it("answers another user's conversation with the same 404 as a missing one", async () => {
    const { conversation, messages } = await seeded('ann', 'Mine');
    const routes = (id: string): [string, string, unknown?][] => [
      ['GET', `/v1/conversations/${id}`],
      ['PATCH', `/v1/conversations/${id}`, { title: 'Taken' }],
      ['DELETE', `/v1/conversations/${id}`],
      ['GET', `/v1/conversations/${id}/export?format=markdown`],
      ['POST', `/v1/conversations/${id}/fork`, { message_id: messages[0]?.id }],
    ];
    const strip = (reply: Reply) => ({
      status: reply.status,
      code: reply.json['code'],
      error: reply.json['error'],
    });
    const missing = routes(newTurnId());
    for (const [index, [method, path, body]] of routes(conversation.id).entries()) {
      const foreign = strip(await call('bob', method, path, body));
      expect(foreign).toEqual(strip(await call('bob', method, missing[index]?.[1] ?? '', body)));
      expect(foreign).toMatchObject({ status: 404, code: 'conversation_unknown' });
    }
    expect(await call('ann', 'GET', `/v1/conversations/${conversation.id}`)).toMatchObject({
      status: 200,
      json: { title: 'Mine' },
    });
  });

  it('refuses malformed ids, bodies and queries with invalid_request', async () => {
    const { conversation } = await seeded('ann', 'x');
    const id = conversation.id;
    const bad: [string, string, unknown?][] = [
      ['GET', '/v1/conversations/not-a-uuid'],
      ['DELETE', '/v1/conversations/123'],
      ['PATCH', `/v1/conversations/${id}`, { title: '' }],
      ['PATCH', `/v1/conversations/${id}`, { title: 'x'.repeat(201) }],
      ['PATCH', `/v1/conversations/${id}`, { title: 'two\nlines' }],
      ['PATCH', `/v1/conversations/${id}`, { title: 'ok', extra: true }],
      ['POST', `/v1/conversations/${id}/fork`, { message_id: 'nope' }],
      ['GET', `/v1/conversations/${id}/export?format=pdf`],
      ['GET', '/v1/conversations?limit=0'],
      ['GET', '/v1/conversations?limit=101'],
      ['GET', '/v1/conversations?limit=ten'],
      ['GET', '/v1/conversations?cursor=bm90LWEtY3Vyc29y'],
      ['GET', '/v1/conversations?cursor=%25%25'],
      ['GET', '/v1/conversations?sort=asc'],
    ];
    for (const [method, path, body] of bad) {
      const reply = await call('ann', method, path, body);
      expect({ method, path, status: reply.status, code: reply.json['code'] }).toEqual({
        method,
        path,
        status: 400,
        code: 'invalid_request',
      });
    }
  });

  it('pages with the cursor it hands out', async () => {
    for (let index = 0; index < 3; index += 1) await seeded('pat', `page ${index}`);
    const first = await call('pat', 'GET', '/v1/conversations?limit=2');
    expect(first.json['data']).toHaveLength(2);
    const cursor = first.json['next_cursor'];
    if (typeof cursor !== 'string') throw new Error('expected a cursor');
    const second = await call('pat', 'GET', `/v1/conversations?limit=2&cursor=${cursor}`);
    expect(second.json).toMatchObject({ data: [{ title: 'page 0' }], next_cursor: null });
  });
});
