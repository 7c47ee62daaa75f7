import { needs } from '@aibox/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventually } from '../../audit/test/support/audit.js';
import { lastUserText } from './support/scripted-model.js';
import { readEvents, startStack, type SseEvent, type Stack } from './support/stack.js';

/**
 * A chat turn end to end: a user's bearer token at the gateway, agent-runtime running the tool loop, the real
 * inference router in front of a scripted OpenAI-compatible model, audit sealing the turn into a receipt.
 */
const hasBubblewrap = await needs('bubblewrap');
let stack: Stack;
let ada: string;
let bob: string;
let admin: string;

beforeAll(async () => {
  // On PostgreSQL where the machine has it (CI does); PGlite's paths are covered by the medium suites.
  stack = await startStack({
    runtimeEnv: { AGENT_APPROVAL_TTL_S: '3' },
    postgres: await needs('postgres'),
    sandbox: hasBubblewrap,
  });
  [ada, bob, admin] = await Promise.all([
    stack.token('ada'),
    stack.token('bob'),
    stack.token('root', { admin: true }),
  ]);
}, 120_000);

afterAll(async () => {
  await stack.close();
});

function chatStream(token: string, body: unknown): Promise<Response> {
  return stack.call(token, 'POST', '/v1/chat/stream', body, { accept: 'text/event-stream' });
}

const named = (events: readonly SseEvent[], name: string): SseEvent[] =>
  events.filter((event) => event.event === name);

const textOf = (events: readonly SseEvent[]): string =>
  named(events, 'delta')
    .map((event) => String(event.data['text']))
    .join('');

async function createAgent(token: string, agent: Record<string, unknown>): Promise<string> {
  const response = await stack.call(token, 'POST', '/v1/agents', agent);
  const body = (await response.json()) as { id?: string };
  expect(response.status, JSON.stringify(body)).toBe(201);
  return body.id ?? '';
}

/** The event types of a turn's receipt proof, once audit has sealed the turn. */
async function sealedEventTypes(token: string, turnId: string): Promise<string[]> {
  const proof = await eventually(async () => {
    const response = await stack.call(token, 'GET', `/v1/receipts/${turnId}/proof`);
    return response.status === 200
      ? ((await response.json()) as { events: { event: { type: string } }[] })
      : undefined;
  });
  return proof.events.map((entry) => entry.event.type);
}

describe('a chat turn through the gateway', () => {
  it('streams the answer as named events with ids, stores it, and names the conversation', async () => {
    const response = await chatStream(ada, { message: 'hello there' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const turnId = response.headers.get('x-aibox-turn-id');
    const events = await readEvents(response);

    expect(events[0]?.event).toBe('turn');
    expect(events[0]?.data['turn_id']).toBe(turnId);
    expect(events.map((event) => event.id)).toEqual(events.map((_event, index) => index + 1));
    expect(textOf(events)).toBe('You said: hello there');
    expect(named(events, 'usage')[0]?.data).toMatchObject({ prompt_tokens: 20, completion_tokens: 5 });
    const done = events.at(-1);
    expect(done?.event).toBe('done');
    expect(done?.data['receipt_url']).toBe(`/v1/receipts/${turnId}`);

    const conversationId = String(events[0]?.data['conversation_id']);
    const conversation = await eventually(async () => {
      const read = (await (await stack.call(ada, 'GET', `/v1/conversations/${conversationId}`)).json()) as {
        title: string | null;
        messages: { id: string; role: string; content: unknown }[];
      };
      return read.title === null ? undefined : read;
    });
    expect(conversation.title).toBe('Scripted title');
    expect(conversation.messages.map((message) => [message.role, message.content])).toEqual([
      ['user', 'hello there'],
      ['assistant', 'You said: hello there'],
    ]);
    expect(conversation.messages[1]?.id).toBe(done?.data['message_id']);
  });

  it('answers whole with POST /v1/chat and continues the same conversation with its history', async () => {
    const first = (await (await stack.call(ada, 'POST', '/v1/chat', { message: 'one' })).json()) as {
      conversation_id: string;
      message: { content: string };
    };
    expect(first.message.content).toBe('You said: one');
    const second = await stack.call(ada, 'POST', '/v1/chat', {
      conversation_id: first.conversation_id,
      message: 'two',
    });
    expect(second.status).toBe(200);
    const prompt = stack.model.requests.at(-1)?.['messages'] as { role: string; content: unknown }[];
    expect(prompt.map((message) => message.role)).toEqual(['system', 'user', 'assistant', 'user']);
  });

  it('runs a tool the model calls and gives the model its result', async () => {
    const agent = await createAgent(ada, {
      name: 'clock',
      system_prompt: 'Tell the time.',
      tools: ['current_time'],
    });
    stack.model.queue({ toolCalls: [{ name: 'current_time', arguments: '{"timezone":"UTC"}' }] }, (body) => {
      const messages = body['messages'] as { role: string; content: string }[];
      const tool = messages.find((message) => message.role === 'tool');
      return {
        text: `The clock says ${(JSON.parse(tool?.content ?? '{}') as { timezone: string }).timezone}`,
      };
    });
    const events = await readEvents(await chatStream(ada, { agent_id: agent, message: 'what time is it?' }));

    expect(named(events, 'tool_call')[0]?.data).toMatchObject({
      name: 'current_time',
      arguments: '{"timezone":"UTC"}',
    });
    const result = named(events, 'tool_result')[0]?.data;
    expect(result).toMatchObject({ name: 'current_time', ok: true });
    expect(JSON.parse(String(result?.['output']))).toMatchObject({ timezone: 'UTC' });
    expect(textOf(events)).toBe('The clock says UTC');
    expect(events.at(-1)?.event).toBe('done');
  });

  it('calls a tool of a real MCP server the agent is configured with', async () => {
    const agent = await createAgent(admin, {
      name: 'calculator',
      visibility: 'tenant',
      tools: [],
      mcp_servers: [
        {
          name: 'calc',
          transport: 'stdio',
          command: process.execPath,
          args: [new URL('./support/mcp-stdio-server.mjs', import.meta.url).pathname],
        },
      ],
    });
    stack.model.queue({ toolCalls: [{ name: 'mcp__calc__add', arguments: '{"a":2,"b":3}' }] }, (body) => {
      const messages = body['messages'] as { role: string; content: string }[];
      return { text: `sum ${messages.find((message) => message.role === 'tool')?.content ?? ''}` };
    });
    const events = await readEvents(await chatStream(ada, { agent_id: agent, message: 'add 2 and 3' }));
    expect(named(events, 'tool_result')[0]?.data).toMatchObject({ name: 'mcp__calc__add', ok: true });
    expect(String(named(events, 'tool_result')[0]?.data['output'])).toContain('5');
    expect(textOf(events)).toContain('5');
    const tools = stack.model.requests.at(-2)?.['tools'] as { function: { name: string } }[];
    expect(tools.map((tool) => tool.function.name)).toContain('mcp__calc__add');
  });

  it('loads an attached skill into the prompt only when the message makes it relevant', async () => {
    const skill = await stack.call(ada, 'POST', '/v1/skills', {
      markdown: [
        '---',
        'name: haiku',
        'description: Write poems as haiku',
        'when_to_use: The user asks for a poem or a haiku',
        '---',
        'Answer in exactly three lines of five, seven and five syllables.',
      ].join('\n'),
    });
    const created = (await skill.json()) as { id: string };
    expect(skill.status, JSON.stringify(created)).toBe(201);
    const agent = await createAgent(ada, { name: 'poet', skills: [created.id] });
    const systemPrompt = (): string =>
      String((stack.model.requests.at(-1)?.['messages'] as { content: string }[])[0]?.content);

    await stack.call(ada, 'POST', '/v1/chat', { agent_id: agent, message: 'write me a haiku about rain' });
    expect(systemPrompt()).toContain('three lines of five, seven and five syllables');
    await stack.call(ada, 'POST', '/v1/chat', { agent_id: agent, message: 'what is the capital of France?' });
    expect(systemPrompt()).not.toContain('syllables');
  });

  it.runIf(hasBubblewrap)(
    "runs Python in the conversation's sandbox, and the receipt lists the run",
    async () => {
      const agent = await createAgent(ada, { name: 'coder', tools: ['sandbox_exec'] });
      stack.model.queue(
        { toolCalls: [{ name: 'sandbox_exec', arguments: '{"language":"python","code":"print(6 * 7)"}' }] },
        (body) => {
          const messages = body['messages'] as { role: string; content: string }[];
          return { text: `it printed ${messages.find((message) => message.role === 'tool')?.content ?? ''}` };
        },
      );
      const response = await chatStream(ada, { agent_id: agent, message: 'what is six times seven?' });
      const turnId = response.headers.get('x-aibox-turn-id') ?? '';
      const events = await readEvents(response);
      const result = named(events, 'tool_result')[0]?.data;
      expect(result).toMatchObject({ name: 'sandbox_exec', ok: true });
      expect(String(result?.['output'])).toContain('exit code 0');
      expect(String(result?.['output'])).toContain('42');
      expect(events.at(-1)?.event).toBe('done');
      const types = await sealedEventTypes(ada, turnId);
      expect(types).toContain('sandbox_exec');
      expect(types).toContain('tool_returned');
    },
  );

  it.runIf(hasBubblewrap)(
    "writes a file with sandbox_files that sandbox_exec then reads, in the same conversation's sandbox",
    async () => {
      const agent = await createAgent(ada, { name: 'filer', tools: ['sandbox_files', 'sandbox_exec'] });
      const toolContents = (body: Record<string, unknown>): string[] =>
        (body['messages'] as { role: string; content: string }[])
          .filter((message) => message.role === 'tool')
          .map((message) => message.content);
      stack.model.queue(
        {
          toolCalls: [
            {
              name: 'sandbox_files',
              arguments: JSON.stringify({ action: 'write', path: 'notes.txt', content: 'hello from a file' }),
            },
          ],
        },
        () => ({
          toolCalls: [
            {
              name: 'sandbox_exec',
              arguments: JSON.stringify({
                language: 'python',
                code: "print(open('notes.txt').read().upper())",
              }),
            },
          ],
        }),
        (body) => ({ text: `done: ${toolContents(body).join(' | ')}` }),
      );
      const events = await readEvents(await chatStream(ada, { agent_id: agent, message: 'shout my notes' }));
      const results = named(events, 'tool_result').map((event) => event.data);
      expect(results).toHaveLength(2);
      expect(results[0]).toMatchObject({ name: 'sandbox_files', ok: true });
      expect(String(results[0]?.['output'])).toBe('wrote 17 bytes to /workspace/notes.txt');
      expect(results[1]).toMatchObject({ name: 'sandbox_exec', ok: true });
      expect(String(results[1]?.['output'])).toContain('HELLO FROM A FILE');
      expect(textOf(events)).toContain('HELLO FROM A FILE');
      expect(events.at(-1)?.event).toBe('done');
    },
  );

  it('refuses an MCP server on an agent made by a user who is not an admin', async () => {
    const response = await stack.call(bob, 'POST', '/v1/agents', {
      name: 'sneaky',
      mcp_servers: [{ name: 'sh', transport: 'stdio', command: '/bin/sh' }],
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'mcp_forbidden' });
  });
});

describe('approvals', () => {
  let agent: string;
  beforeAll(async () => {
    agent = await createAgent(ada, {
      name: 'careful clock',
      tools: ['current_time'],
      approval: { tools: ['current_time'], all: false },
    });
  });

  async function pausedTurn(): Promise<{ response: Response; events: SseEvent[]; approval: string }> {
    stack.model.queue({ toolCalls: [{ name: 'current_time', arguments: '{}' }] }, (body) => {
      const messages = body['messages'] as { role: string; content: string }[];
      return { text: `tool said: ${messages.find((message) => message.role === 'tool')?.content ?? ''}` };
    });
    const response = await chatStream(ada, { agent_id: agent, message: 'time please' });
    const events = await readEvents(response, (event) => event.event === 'approval_required', {
      keepOpen: true,
    });
    const approval = String(named(events, 'approval_required')[0]?.data['approval_id']);
    return { response, events, approval };
  }

  it('pauses on approval_required, runs the tool once approved, and the receipt lists every event', async () => {
    const { response, approval } = await pausedTurn();
    const turnId = response.headers.get('x-aibox-turn-id') ?? '';
    // Another user cannot decide it; the owner can.
    const foreign = await stack.call(bob, 'POST', `/v1/approvals/${approval}`, { decision: 'approve' });
    expect(foreign.status).toBe(404);
    const pending = (await (await stack.call(ada, 'GET', '/v1/approvals')).json()) as {
      data: { id: string }[];
    };
    expect(pending.data.map((item) => item.id)).toContain(approval);
    const decided = await stack.call(ada, 'POST', `/v1/approvals/${approval}`, {
      decision: 'approve',
      reason: 'fine',
    });
    expect(decided.status).toBe(200);
    const again = await stack.call(ada, 'POST', `/v1/approvals/${approval}`, { decision: 'deny' });
    expect(again.status).toBe(409);

    const events = await readEvents(response);
    expect(named(events, 'approval_decided')[0]?.data).toMatchObject({ decision: 'approved' });
    expect(named(events, 'tool_result')[0]?.data).toMatchObject({ ok: true });
    expect(events.at(-1)?.event).toBe('done');

    const types = await sealedEventTypes(ada, turnId);
    for (const type of [
      'turn_started',
      'prompt_generated',
      'model_invoked',
      'model_response',
      'approval_requested',
      'approval_decided',
      'tool_called',
      'tool_returned',
      'turn_sealed',
    ]) {
      expect(types, type).toContain(type);
    }
    expect(types.at(-1)).toBe('turn_sealed');
  });

  it('tells the model the call was not approved when the user denies it', async () => {
    const { response, approval } = await pausedTurn();
    await stack.call(ada, 'POST', `/v1/approvals/${approval}`, { decision: 'deny', reason: 'no' });
    const events = await readEvents(response);
    expect(named(events, 'approval_decided')[0]?.data).toMatchObject({ decision: 'denied', reason: 'no' });
    expect(named(events, 'tool_result')[0]?.data).toMatchObject({ ok: false, code: 'tool_denied' });
    expect(textOf(events)).toContain('did not approve');
  });

  it('denies by default when nobody decides before the approval expires', async () => {
    const { response, approval } = await pausedTurn();
    const events = await readEvents(response);
    expect(named(events, 'approval_decided')[0]?.data).toMatchObject({ decision: 'expired' });
    expect(named(events, 'tool_result')[0]?.data).toMatchObject({ ok: false, code: 'tool_denied' });
    const late = await stack.call(ada, 'POST', `/v1/approvals/${approval}`, { decision: 'approve' });
    expect(late.status).toBe(409);
    const stored = (await (await stack.call(ada, 'GET', `/v1/approvals/${approval}`)).json()) as {
      status: string;
    };
    expect(stored.status).toBe('expired');
  });
});

describe('stopping, resuming and failing', () => {
  it('stops a turn mid-stream and keeps what was said', async () => {
    stack.model.queue({ text: 'word '.repeat(200), delayMs: 20 });
    const response = await chatStream(ada, { message: 'talk a lot' });
    const turnId = response.headers.get('x-aibox-turn-id') ?? '';
    const early = await readEvents(response, (event) => event.event === 'delta' && (event.id ?? 0) >= 4, {
      keepOpen: true,
    });
    expect(early.length).toBeGreaterThan(0);
    expect((await stack.call(bob, 'POST', `/v1/chat/${turnId}/cancel`)).status).toBe(404);
    const cancelled = await stack.call(ada, 'POST', `/v1/chat/${turnId}/cancel`);
    expect(cancelled.status).toBe(202);

    const events = [...early, ...(await readEvents(response))];
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'turn_cancelled' } });
    expect(named(events, 'delta').length).toBeLessThan(200);
    const conversationId = String(events[0]?.data['conversation_id']);
    const conversation = (await (
      await stack.call(ada, 'GET', `/v1/conversations/${conversationId}`)
    ).json()) as {
      messages: { role: string; status: string }[];
    };
    expect(conversation.messages.at(-1)).toMatchObject({ role: 'assistant', status: 'cancelled' });
    expect((await stack.call(ada, 'POST', `/v1/chat/${turnId}/cancel`)).status).toBe(409);
  });

  it('resumes a dropped stream with Last-Event-ID and delivers exactly the missing events', async () => {
    stack.model.queue({ text: 'one two three four five six seven eight nine ten', delayMs: 30 });
    const response = await chatStream(ada, { message: 'count' });
    const turnId = response.headers.get('x-aibox-turn-id') ?? '';
    // Reading stops (and the connection closes) after event 3: the client dropped.
    const seen = await readEvents(response, (event) => event.id === 3);
    expect(seen.at(-1)?.id).toBe(3);

    const resumed = await stack.call(ada, 'GET', `/v1/chat/${turnId}/stream`, undefined, {
      'last-event-id': '3',
    });
    expect(resumed.status).toBe(200);
    const rest = await readEvents(resumed);
    expect(rest[0]?.id).toBe(4);
    const all = [...seen, ...rest];
    expect(all.map((event) => event.id)).toEqual(all.map((_event, index) => index + 1));
    expect(textOf(all)).toBe('one two three four five six seven eight nine ten');
    expect(all.at(-1)?.event).toBe('done');

    // After the end, the same resume still answers from the stored events; another user gets nothing.
    const later = await readEvents(
      await stack.call(ada, 'GET', `/v1/chat/${turnId}/stream`, undefined, { 'last-event-id': '3' }),
    );
    expect(later).toEqual(rest);
    expect((await stack.call(bob, 'GET', `/v1/chat/${turnId}/stream`)).status).toBe(404);
  });

  it('keeps running when the client leaves, and stores the answer', async () => {
    stack.model.queue({ text: 'a b c d e f g h', delayMs: 20 });
    const response = await chatStream(ada, { message: 'leave early' });
    const first = await readEvents(response, (event) => event.event === 'delta');
    const conversationId = String(first[0]?.data['conversation_id']);
    const stored = await eventually(async () => {
      const read = (await (await stack.call(ada, 'GET', `/v1/conversations/${conversationId}`)).json()) as {
        messages: { role: string; content: string; status: string }[];
      };
      return read.messages.length === 2 ? read : undefined;
    });
    expect(stored.messages[1]).toMatchObject({
      role: 'assistant',
      content: 'a b c d e f g h',
      status: 'complete',
    });
  });

  it("passes the router's error code to the client as an error event, and audit records turn_failed", async () => {
    const agent = await createAgent(ada, { name: 'unrouted', model_role: 'vision' });
    const response = await chatStream(ada, { agent_id: agent, message: 'hi' });
    const turnId = response.headers.get('x-aibox-turn-id') ?? '';
    const events = await readEvents(response);
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: 'role_not_configured' } });
    expect(String(events.at(-1)?.data['error'])).not.toBe('');
    const whole = await stack.call(ada, 'POST', '/v1/chat', { agent_id: agent, message: 'hi' });
    expect(whole.status).toBe(503);
    expect(await whole.json()).toMatchObject({ code: 'role_not_configured' });
    const types = await sealedEventTypes(ada, turnId);
    expect(types.at(-1)).toBe('turn_failed');
  });

  it('refuses bad input with a code and never starts a turn', async () => {
    for (const body of [
      {},
      { message: '' },
      { message: 'x', messages: [{ role: 'user', content: 'y' }] },
      { message: 'x', conversation_id: 'not-a-uuid' },
      { message: 'x', surprise: true },
      { message: [{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }] },
    ]) {
      const response = await stack.call(ada, 'POST', '/v1/chat', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'invalid_request' });
    }
    const pdf = await stack.call(ada, 'POST', '/v1/chat', {
      message: 'read this',
      attachments: [{ name: 'a.pdf', content_type: 'application/pdf', data: 'JVBERi0=' }],
    });
    expect(pdf.status).toBe(400);
    expect(await pdf.json()).toMatchObject({ code: 'attachment_unsupported' });
  });

  it('sends images and text attachments to the model as content parts', async () => {
    const response = await stack.call(ada, 'POST', '/v1/chat', {
      message: [
        { type: 'text', text: 'what is in this picture?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      ],
      attachments: [
        {
          name: 'notes.txt',
          content_type: 'text/plain',
          data: Buffer.from('remember milk').toString('base64'),
        },
      ],
    });
    expect(response.status).toBe(200);
    const sent = stack.model.requests.at(-1)?.['messages'] as {
      role: string;
      content: { type: string; text?: string }[];
    }[];
    const user = sent.at(-1);
    expect(user?.content.map((part) => part.type)).toEqual(['text', 'image_url', 'text']);
    expect(user?.content[2]?.text).toContain('remember milk');
    expect(lastUserText(stack.model.requests.at(-1) ?? {})).toContain('what is in this picture?');
  });
});

describe('isolation between users', () => {
  it('keeps one user out of everything of another', async () => {
    const answer = (await (await stack.call(ada, 'POST', '/v1/chat', { message: 'private' })).json()) as {
      turn_id: string;
      conversation_id: string;
      message: { id: string };
    };
    const id = answer.conversation_id;
    const attempts: [string, string, unknown][] = [
      ['GET', `/v1/conversations/${id}`, undefined],
      ['PATCH', `/v1/conversations/${id}`, { title: 'mine now' }],
      ['DELETE', `/v1/conversations/${id}`, undefined],
      ['GET', `/v1/conversations/${id}/export?format=json`, undefined],
      ['POST', `/v1/conversations/${id}/fork`, { message_id: answer.message.id }],
      ['POST', '/v1/chat', { conversation_id: id, message: 'continue' }],
      ['GET', `/v1/chat/${answer.turn_id}/stream`, undefined],
      ['POST', `/v1/chat/${answer.turn_id}/cancel`, undefined],
      ['POST', `/v1/audit/turns/${answer.turn_id}/replay/live`, undefined],
    ];
    for (const [method, path, body] of attempts) {
      const response = await stack.call(bob, method, path, body);
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    const list = (await (await stack.call(bob, 'GET', '/v1/conversations')).json()) as {
      data: { id: string }[];
    };
    expect(list.data.map((conversation) => conversation.id)).not.toContain(id);
    // Still there, untouched, for its owner.
    const own = (await (await stack.call(ada, 'GET', `/v1/conversations/${id}`)).json()) as {
      messages: unknown[];
    };
    expect(own.messages).toHaveLength(2);
  });
});

describe('live replay', () => {
  it('re-runs a recorded turn against the current model and shows both answers side by side', async () => {
    const recorded = (await (await stack.call(ada, 'POST', '/v1/chat', { message: 'replay me' })).json()) as {
      turn_id: string;
    };
    stack.model.queue({ text: 'a newer answer' });
    const response = await stack.call(ada, 'POST', `/v1/audit/turns/${recorded.turn_id}/replay/live`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      replay_of: recorded.turn_id,
      original: { text: 'You said: replay me' },
      live: { text: 'a newer answer', status: 'done' },
    });
    // The replay went to the model with the recorded prompt, and left the conversation as it was.
    expect(lastUserText(stack.model.requests.at(-1) ?? {})).toBe('replay me');
  });
});
