import { configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Route, Routes, useLocation } from 'react-router';

import { AuthProvider } from '../auth/auth.js';
import { createTestAuditor, type TestAuditor } from '../receipts/test-proofs.js';
import { renderWithProviders } from '../test-utils.js';
import type { ConversationDetail, StoredMessage } from './chat-api.js';
import { ChatLayout } from './ChatLayout.js';
import { ChatPage } from './ChatPage.js';

const CONVERSATION = '6f1c1b7e-0000-4000-8000-000000000001';
const FORK = '6f1c1b7e-0000-4000-8000-000000000002';
const TURN = '6f1c1b7e-0000-4000-8000-0000000000a1';
const APPROVAL = '6f1c1b7e-0000-4000-8000-0000000000b1';

function frame(id: number, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A response body the test writes to while the page reads it, like a turn that is still running. */
function liveStream() {
  const encoder = new TextEncoder();
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(started) {
      controller = started;
    },
  });
  return {
    response: new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
    send(...frames: string[]) {
      for (const text of frames) controller?.enqueue(encoder.encode(text));
    },
    close() {
      controller?.close();
    },
  };
}

interface Request {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
}

function message(
  id: string,
  role: StoredMessage['role'],
  content: string,
  extra: Partial<StoredMessage> = {},
): StoredMessage {
  return {
    id,
    turn_id: TURN,
    role,
    content,
    tool_calls: null,
    tool_call_id: null,
    tool_outcome: null,
    status: 'complete',
    created_at: '2026-12-04T10:00:00.000Z',
    ...extra,
  };
}

/** The gateway as the page sees it: every route the chat calls, answered from `server`'s state. */
function stubGateway(server: {
  roles?: string[];
  conversations: Record<string, ConversationDetail>;
  streams: ReturnType<typeof liveStream>[];
  /** The audit service: each turn's receipt proof (as sent), and the published keys. */
  receipts?: Record<string, () => Response>;
  auditKeys?: unknown;
}): Request[] {
  const requests: Request[] = [];
  vi.stubGlobal('fetch', (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = new URL(
      typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
      'http://app',
    );
    const method = init.method ?? 'GET';
    const body: unknown = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    requests.push({ method, path: url.pathname, body });
    const json = (value: unknown, status = 200) => Promise.resolve(Response.json(value, { status }));
    const route = `${method} ${url.pathname}`;
    if (route === 'GET /v1/me')
      return json({ tid: 't', uid: 'u', email: 'ada@example.com', roles: server.roles ?? ['user'] });
    if (route === 'GET /v1/agents') {
      return json({
        data: [
          { id: 'default', name: 'Assistant', description: 'Helpful and brief', visibility: 'managed' },
          { id: 'researcher', name: 'Researcher', description: 'Reads a lot', visibility: 'tenant' },
        ],
      });
    }
    if (route === 'GET /v1/approvals') return json({ data: [] });
    if (route === 'GET /v1/audit/keys' && server.auditKeys !== undefined) return json(server.auditKeys);
    const proof = /^\/v1\/receipts\/([^/]+)\/proof$/.exec(url.pathname);
    const receipt = method === 'GET' && proof?.[1] !== undefined ? server.receipts?.[proof[1]] : undefined;
    if (receipt !== undefined) return Promise.resolve(receipt());
    if (route === 'GET /v1/conversations') {
      const data = Object.values(server.conversations).map(({ messages: _messages, ...summary }) => summary);
      return json({ data, next_cursor: null });
    }
    const one = /^\/v1\/conversations\/([^/]+)$/.exec(url.pathname);
    if (method === 'GET' && one?.[1] !== undefined) {
      const conversation = server.conversations[one[1]];
      return conversation === undefined
        ? json({ error: 'no such conversation', code: 'conversation_unknown' }, 404)
        : json(conversation);
    }
    if (route === `POST /v1/conversations/${CONVERSATION}/fork`) {
      const fork: ConversationDetail = {
        id: FORK,
        title: 'Fork',
        agent_id: 'default',
        forked_from: {
          conversation_id: CONVERSATION,
          message_id: (body as { message_id: string }).message_id,
        },
        created_at: '2026-12-04T10:00:00.000Z',
        updated_at: '2026-12-04T10:00:00.000Z',
        messages: [],
      };
      server.conversations[FORK] = fork;
      return json(fork, 201);
    }
    if (route === 'POST /v1/chat/stream') {
      const stream = server.streams.shift();
      return stream === undefined
        ? json({ error: 'unexpected turn', code: 'invalid_request' }, 400)
        : Promise.resolve(stream.response);
    }
    if (route === `POST /v1/approvals/${APPROVAL}`) {
      return json({
        id: APPROVAL,
        turn_id: TURN,
        conversation_id: CONVERSATION,
        tool: 'current_time',
        arguments: { timezone: 'UTC' },
        status: 'approved',
        reason: null,
        expires_at: '2030-01-01T00:00:00.000Z',
      });
    }
    return json({ error: 'no such route', code: 'route_unknown' }, 404);
  });
  return requests;
}

/** A conversation of two answered questions, whose next turn streams from `stream`. */
function twoQuestions(stream: ReturnType<typeof liveStream>) {
  return {
    conversations: {
      [CONVERSATION]: conversation(
        [
          message('m-1', 'user', 'First question', { turn_id: 'turn-1' }),
          message('m-2', 'assistant', 'First answer', { turn_id: 'turn-1' }),
          message('m-3', 'user', 'Second question', { turn_id: 'turn-2' }),
          message('m-4', 'assistant', 'Second answer', { turn_id: 'turn-2' }),
        ],
        'Two questions',
      ),
    } as Record<string, ConversationDetail>,
    streams: [stream],
  };
}

function CurrentPath() {
  return <output aria-label="Current path">{useLocation().pathname}</output>;
}

function renderChat(path: string) {
  return renderWithProviders(
    <AuthProvider config={{ mode: 'disabled' }}>
      <CurrentPath />
      <Routes>
        <Route path="/" element={<ChatLayout />}>
          <Route index element={<ChatPage />} />
          <Route path="c/:conversationId" element={<ChatPage />} />
        </Route>
      </Routes>
    </AuthProvider>,
    { path },
  );
}

function conversation(messages: StoredMessage[], title = 'What time is it?'): ConversationDetail {
  return {
    id: CONVERSATION,
    title,
    agent_id: 'default',
    forked_from: null,
    created_at: '2026-12-04T10:00:00.000Z',
    updated_at: '2026-12-04T10:00:00.000Z',
    messages,
  };
}

let auditor: TestAuditor;

beforeAll(async () => {
  auditor = await createTestAuditor();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

// A whole chat page renders a lot in jsdom; on a busy machine the default second can pass before it settles.
configure({ asyncUtilTimeout: 5_000 });
const PAGE_TEST_TIMEOUT_MS = 30_000;

describe('ChatPage', () => {
  it(
    'streams a new chat into its conversation: text, a tool call, and an approval decided from the page',
    async () => {
      const stream = liveStream();
      const server = { conversations: {} as Record<string, ConversationDetail>, streams: [stream] };
      const requests = stubGateway(server);
      const user = userEvent.setup();
      renderChat('/');

      expect(await screen.findByRole('heading', { name: 'How can I help?' })).toBeInTheDocument();
      await user.type(screen.getByRole('textbox', { name: 'Message' }), 'What time is it?{Enter}');
      await waitFor(() => {
        expect(requests.filter((request) => request.path === '/v1/chat/stream')).toHaveLength(1);
      });
      expect(requests.find((request) => request.path === '/v1/chat/stream')?.body).toEqual({
        agent_id: 'default',
        message: 'What time is it?',
      });
      expect(
        within(screen.getByRole('article', { name: 'You' })).getByText('What time is it?'),
      ).toBeInTheDocument();
      // Not stored yet: no time to show.
      expect(
        within(screen.getByRole('article', { name: 'You' })).queryByRole('time'),
      ).not.toBeInTheDocument();

      // The turn event names the new conversation: the page moves there and the stream goes on.
      const question = message('m-user', 'user', 'What time is it?');
      server.conversations[CONVERSATION] = conversation([question]);
      stream.send(
        frame(1, 'turn', { turn_id: TURN, conversation_id: CONVERSATION, agent_id: 'default', kind: 'chat' }),
      );
      await waitFor(() => {
        expect(screen.getByRole('status', { name: 'Current path' })).toHaveTextContent(`/c/${CONVERSATION}`);
      });

      stream.send(frame(2, 'delta', { text: 'Let me ' }), frame(3, 'delta', { text: 'check.' }));
      expect(await screen.findByText('Let me check.')).toBeInTheDocument();
      const answer = screen.getByRole('article', { name: 'Assistant' });
      expect(answer).toHaveAttribute('aria-busy', 'true');
      expect(screen.getByRole('button', { name: 'Stop' })).toBeInTheDocument();

      stream.send(
        frame(4, 'tool_call', { id: 'call-1', name: 'current_time', arguments: '{"timezone":"UTC"}' }),
      );
      const toolButton = await within(answer).findByRole('button', { name: /current_time/ });
      expect(toolButton).toHaveAttribute('aria-expanded', 'false');
      await user.click(toolButton);
      expect(toolButton).toHaveAttribute('aria-expanded', 'true');
      expect((await within(answer).findAllByText(/"timezone": "UTC"/)).length).toBeGreaterThan(0);

      stream.send(
        frame(5, 'approval_required', {
          approval_id: APPROVAL,
          tool_call_id: 'call-1',
          name: 'current_time',
          arguments: '{"timezone":"UTC"}',
          expires_at: '2030-01-01T00:00:00.000Z',
        }),
      );
      const approval = await screen.findByRole('group', { name: 'Approval for current_time' });
      expect(approval).toHaveTextContent('current_time wants to run');
      await user.click(within(approval).getByRole('button', { name: 'Approve' }));
      await waitFor(() => {
        expect(requests).toContainEqual({
          method: 'POST',
          path: `/v1/approvals/${APPROVAL}`,
          body: { decision: 'approve' },
        });
      });
      expect(await within(approval).findByText('Approved')).toBeInTheDocument();
      expect(within(approval).queryByRole('button', { name: 'Approve' })).not.toBeInTheDocument();

      const call = {
        id: 'call-1',
        type: 'function' as const,
        function: { name: 'current_time', arguments: '{"timezone":"UTC"}' },
      };
      server.conversations[CONVERSATION] = conversation([
        question,
        message('m-call', 'assistant', 'Let me check.', { tool_calls: [call] }),
        message('m-tool', 'tool', '12:00 UTC', { tool_call_id: 'call-1' }),
        message('m-answer', 'assistant', 'It is **noon**.'),
      ]);
      stream.send(
        frame(6, 'approval_decided', {
          approval_id: APPROVAL,
          tool_call_id: 'call-1',
          decision: 'approved',
          reason: null,
        }),
        frame(7, 'tool_result', { id: 'call-1', name: 'current_time', ok: true, output: '12:00 UTC' }),
        frame(8, 'delta', { text: 'It is **noon**.' }),
        frame(9, 'usage', {
          prompt_tokens: 7,
          completion_tokens: 3,
          total_tokens: 10,
          model_calls: 2,
          model: 'm',
        }),
        frame(10, 'done', {
          turn_id: TURN,
          conversation_id: CONVERSATION,
          message_id: 'm-answer',
          receipt_url: `/v1/receipts/${TURN}`,
        }),
      );
      stream.close();

      await waitFor(() => {
        expect(screen.getByRole('article', { name: 'Assistant' })).toHaveAttribute('aria-busy', 'false');
      });
      // The stream's usage, in the finished answer's action row; its receipt is not available here.
      const count = within(screen.getByRole('article', { name: 'Assistant' })).getByText('10 tokens');
      expect(count).toHaveAttribute('title', '7 in · 3 out');
      // The stored conversation is read again after the end; the answer looks the same from it.
      await waitFor(() => {
        expect(
          requests.filter((request) => request.path === `/v1/conversations/${CONVERSATION}`).length,
        ).toBeGreaterThan(1);
      });
      const finished = screen.getByRole('article', { name: 'Assistant' });
      expect((await within(finished).findByText('noon')).tagName).toBe('STRONG');
      expect(within(finished).getByText('Let me check.')).toBeInTheDocument();
      const finishedTool = within(finished).getByRole('button', { name: /current_time/ });
      expect(finishedTool).toHaveTextContent('Done');
      // Opened while it streamed, still open now that the answer comes from the store.
      expect(finishedTool).toHaveAttribute('aria-expanded', 'true');
      expect(within(finished).getByText('Approved')).toBeInTheDocument();
      expect(within(finished).getByRole('button', { name: 'Regenerate' })).toBeInTheDocument();
      // Stored now, it keeps the count the stream gave.
      expect(within(finished).getByText('10 tokens')).toHaveAttribute('title', '7 in · 3 out');
      // Stored now: both show when they were written.
      expect(within(finished).getByRole('time')).toHaveAttribute('datetime', '2026-12-04T10:00:00.000Z');
      expect(within(screen.getByRole('article', { name: 'You' })).getByRole('time')).toHaveAttribute(
        'datetime',
        '2026-12-04T10:00:00.000Z',
      );
      expect(screen.getByRole('button', { name: 'Send' })).toBeInTheDocument();
      // One turn, one request: moving to the conversation neither dropped nor restarted the stream.
      expect(requests.filter((request) => request.path === '/v1/chat/stream')).toHaveLength(1);
    },
    PAGE_TEST_TIMEOUT_MS,
  );

  it(
    'shows the sentence of a stream error, with the admin’s way to fix it',
    async () => {
      const stream = liveStream();
      const server = {
        roles: ['admin'],
        conversations: {} as Record<string, ConversationDetail>,
        streams: [stream],
      };
      stubGateway(server);
      const user = userEvent.setup();
      renderChat('/');

      await user.type(await screen.findByRole('textbox', { name: 'Message' }), 'Hello{Enter}');
      server.conversations[CONVERSATION] = conversation([message('m-user', 'user', 'Hello')], 'Hello');
      stream.send(
        frame(1, 'turn', { turn_id: TURN, conversation_id: CONVERSATION, agent_id: 'default', kind: 'chat' }),
        frame(2, 'usage', {
          prompt_tokens: 0,
          completion_tokens: 0,
          total_tokens: 0,
          model_calls: 1,
          model: null,
        }),
        frame(3, 'error', {
          error: 'No backend for role "default"',
          code: 'role_not_configured',
          turn_id: TURN,
          receipt_url: `/v1/receipts/${TURN}`,
        }),
      );
      stream.close();

      const alert = await screen.findByRole('alert');
      expect(alert).toHaveTextContent('An administrator has not set up a model yet.');
      expect(await within(alert).findByRole('link', { name: 'Set up models' })).toHaveAttribute(
        'href',
        '/admin/inference',
      );
      expect(within(screen.getByRole('article', { name: 'You' })).getByText('Hello')).toBeInTheDocument();
    },
    PAGE_TEST_TIMEOUT_MS,
  );

  it(
    'regenerates the last answer in a fork that ends before the question, then sends the question again',
    async () => {
      const stream = liveStream();
      const server = twoQuestions(stream);
      const requests = stubGateway(server);
      const user = userEvent.setup();
      renderChat(`/c/${CONVERSATION}`);

      expect(await screen.findByText('Second answer')).toBeInTheDocument();
      const answers = screen.getAllByRole('article', { name: 'Assistant' });
      expect(answers).toHaveLength(2);
      // Only the last answer can be regenerated.
      expect(
        within(answers[0] as HTMLElement).queryByRole('button', { name: 'Regenerate' }),
      ).not.toBeInTheDocument();
      await user.click(within(answers[1] as HTMLElement).getByRole('button', { name: 'Regenerate' }));

      await waitFor(() => {
        expect(requests).toContainEqual({
          method: 'POST',
          path: `/v1/conversations/${CONVERSATION}/fork`,
          body: { message_id: 'm-2' },
        });
      });
      await waitFor(() => {
        expect(requests.find((request) => request.path === '/v1/chat/stream')?.body).toEqual({
          conversation_id: FORK,
          message: 'Second question',
        });
      });
      await waitFor(() => {
        expect(screen.getByRole('status', { name: 'Current path' })).toHaveTextContent(`/c/${FORK}`);
      });
      expect(await screen.findByText(/Forked from/)).toBeInTheDocument();
      stream.close();
    },
    PAGE_TEST_TIMEOUT_MS,
  );

  it(
    'sends an edited question into a fork that ends before it, leaving the original as it was',
    async () => {
      const stream = liveStream();
      const server = twoQuestions(stream);
      const requests = stubGateway(server);
      const user = userEvent.setup();
      renderChat(`/c/${CONVERSATION}`);

      expect(await screen.findByText('Second question')).toBeInTheDocument();
      const second = screen.getAllByRole('article', { name: 'You' })[1] as HTMLElement;
      await user.click(within(second).getByRole('button', { name: 'Edit' }));
      const editor = within(second).getByRole('textbox', { name: 'Edit message' });
      await user.clear(editor);
      await user.type(editor, 'Second question, better asked');
      await user.click(within(second).getByRole('button', { name: 'Resend' }));

      await waitFor(() => {
        expect(requests.find((request) => request.path === '/v1/chat/stream')?.body).toEqual({
          conversation_id: FORK,
          message: 'Second question, better asked',
        });
      });
      expect(requests).toContainEqual({
        method: 'POST',
        path: `/v1/conversations/${CONVERSATION}/fork`,
        body: { message_id: 'm-2' },
      });
      // The original conversation is left as it was: nothing asked the server to change or delete it.
      expect(
        requests.filter(
          (request) =>
            request.path.startsWith(`/v1/conversations/${CONVERSATION}`) &&
            (request.method === 'PATCH' || request.method === 'DELETE'),
        ),
      ).toEqual([]);
      stream.close();
    },
    PAGE_TEST_TIMEOUT_MS,
  );

  it(
    'shows when each message was written: the time of day today, the date for an older one',
    async () => {
      const today = new Date(Date.now() - 60_000);
      today.setSeconds(0, 0);
      const server = {
        conversations: {
          [CONVERSATION]: conversation(
            [
              message('m-1', 'user', 'First question', {
                turn_id: 'turn-1',
                created_at: '2019-03-14T09:26:00.000Z',
              }),
              message('m-2', 'assistant', 'First answer', {
                turn_id: 'turn-1',
                created_at: '2019-03-14T09:26:30.000Z',
              }),
              message('m-3', 'user', 'Second question', {
                turn_id: 'turn-2',
                created_at: today.toISOString(),
              }),
              message('m-4', 'assistant', 'Second answer', {
                turn_id: 'turn-2',
                created_at: today.toISOString(),
              }),
            ],
            'Old and new',
          ),
        } as Record<string, ConversationDetail>,
        streams: [],
      };
      stubGateway(server);
      renderChat(`/c/${CONVERSATION}`);

      expect(await screen.findByText('Second answer')).toBeInTheDocument();
      const [first, second] = screen.getAllByRole('article', { name: 'You' });
      const [answer] = screen.getAllByRole('article', { name: 'Assistant' });

      const asked = within(first as HTMLElement).getByRole('time');
      expect(asked.tagName).toBe('TIME');
      expect(asked).toHaveAttribute('datetime', '2019-03-14T09:26:00.000Z');
      // Last year's message says its year, in the reader's words rather than as an ISO string.
      expect(asked).toHaveTextContent('2019');
      expect(asked.textContent).not.toContain('T09:26');
      expect(asked.getAttribute('title')).toContain('2019');
      expect((asked.getAttribute('title') ?? '').length).toBeGreaterThan(asked.textContent.length);

      // The answer shows when it was stored.
      const answered = within(answer as HTMLElement).getByRole('time');
      expect(answered).toHaveAttribute('datetime', '2019-03-14T09:26:30.000Z');
      expect(answered).toHaveTextContent('2019');

      // Today's message says only the time of day: its minutes, no year.
      const recent = within(second as HTMLElement).getByRole('time');
      expect(recent).toHaveAttribute('datetime', today.toISOString());
      expect(recent).toHaveTextContent(String(today.getMinutes()).padStart(2, '0'));
      expect(recent.textContent).not.toContain(String(today.getFullYear()));
      expect(recent.getAttribute('title')).toContain(String(today.getFullYear()));
    },
    PAGE_TEST_TIMEOUT_MS,
  );

  it(
    'shows how each stored tool call ended when the conversation is opened again',
    async () => {
      const tools = ['current_time', 'sandbox_exec', 'http_fetch', 'sandbox_files'];
      const server = {
        conversations: {
          [CONVERSATION]: conversation([
            message('m-1', 'user', 'Run all four'),
            message('m-2', 'assistant', '', {
              tool_calls: tools.map((name) => ({
                id: `call-${name}`,
                type: 'function' as const,
                function: { name, arguments: '{}' },
              })),
            }),
            message('m-3', 'tool', 'noon', {
              tool_call_id: 'call-current_time',
              tool_outcome: { ok: true, code: null },
            }),
            message('m-4', 'tool', 'exit 1', {
              tool_call_id: 'call-sandbox_exec',
              tool_outcome: { ok: false, code: 'tool_failed' },
            }),
            message('m-5', 'tool', 'The user did not approve this tool call, so it was not run.', {
              tool_call_id: 'call-http_fetch',
              tool_outcome: { ok: false, code: 'tool_denied' },
            }),
            // Stored before the runtime kept outcomes: nothing says how it ended.
            message('m-6', 'tool', 'a.txt (3 bytes)', { tool_call_id: 'call-sandbox_files' }),
            message('m-7', 'assistant', 'One of them failed.'),
          ]),
        } as Record<string, ConversationDetail>,
        streams: [],
      };
      stubGateway(server);
      renderChat(`/c/${CONVERSATION}`);

      const answer = await screen.findByRole('article', { name: 'Assistant' });
      expect(await within(answer).findByText('One of them failed.')).toBeInTheDocument();
      const status = (tool: string) =>
        within(answer)
          .getByRole('button', { name: new RegExp(`^${tool}`) })
          .textContent.slice(tool.length);
      expect(tools.map(status)).toEqual(['Done', 'Failed: tool_failed', 'Denied', 'Finished']);
    },
    PAGE_TEST_TIMEOUT_MS,
  );

  it(
    'shows the tokens a stored answer used once its receipt verifies, from one request, and none without',
    async () => {
      const [genuine, tampered, missing] = [
        '0190a4f2-7b3c-7def-8abc-0000000000d1',
        '0190a4f2-7b3c-7def-8abc-0000000000d2',
        '0190a4f2-7b3c-7def-8abc-0000000000d3',
      ] as const;
      const events = (turnTokens: number) => [
        { type: 'turn_started', service: 'gateway' },
        {
          type: 'model_response',
          service: 'inference-router',
          attributes: { model: 'm', usage: { prompt_tokens: 14, completion_tokens: 2, cached_tokens: 0 } },
        },
        {
          type: 'model_response',
          service: 'inference-router',
          attributes: { model: 'm', usage: { prompt_tokens: 6, completion_tokens: 3, cached_tokens: 0 } },
        },
        {
          type: 'turn_sealed',
          attributes: { status: 'done', tool_calls: 1, model_calls: 2, total_tokens: turnTokens },
        },
      ];
      const sent = (proof: unknown) => () => Response.json(proof);
      // Sealed with 25 tokens, then rewritten in transit to claim more: it no longer verifies.
      const rewritten = JSON.parse(JSON.stringify(await auditor.sealTurn(tampered, events(25)))) as {
        events: { event: { attributes: Record<string, unknown> } }[];
      };
      const closing = rewritten.events.at(-1);
      if (closing === undefined) throw new Error('no closing event');
      closing.event.attributes['total_tokens'] = 9_999;
      const server = {
        conversations: {
          [CONVERSATION]: conversation(
            [
              message('m-1', 'user', 'First question', { turn_id: genuine }),
              message('m-2', 'assistant', 'First answer', { turn_id: genuine }),
              message('m-3', 'user', 'Second question', { turn_id: tampered }),
              message('m-4', 'assistant', 'Second answer', { turn_id: tampered }),
              message('m-5', 'user', 'Third question', { turn_id: missing }),
              message('m-6', 'assistant', 'Third answer', { turn_id: missing }),
            ],
            'Three questions',
          ),
        } as Record<string, ConversationDetail>,
        streams: [],
        receipts: {
          [genuine]: sent(await auditor.sealTurn(genuine, events(25))),
          [tampered]: sent(rewritten),
          [missing]: () =>
            Response.json({ error: 'audit is unavailable', code: 'backend_unavailable' }, { status: 503 }),
        },
        auditKeys: auditor.keys,
      };
      const requests = stubGateway(server);
      renderChat(`/c/${CONVERSATION}`);

      expect(await screen.findByText('Third answer')).toBeInTheDocument();
      const [first, second, third] = screen.getAllByRole('article', { name: 'Assistant' }) as [
        HTMLElement,
        HTMLElement,
        HTMLElement,
      ];
      expect(await within(first).findByRole('button', { name: 'Receipt: verified' })).toBeInTheDocument();
      const count = await within(first).findByText('25 tokens');
      expect(count).toHaveAttribute('title', '20 in · 5 out');

      expect(await within(second).findByRole('button', { name: /^Receipt: failed/u })).toBeInTheDocument();
      expect(await within(third).findByRole('button', { name: 'Receipt: unavailable' })).toBeInTheDocument();
      for (const answer of [second, third])
        expect(within(answer).queryByText(/\btokens?$/u)).not.toBeInTheDocument();

      // The count reads the badge's verification: one proof request per answer, the keys once.
      for (const turn of [genuine, tampered, missing]) {
        expect(requests.filter((request) => request.path === `/v1/receipts/${turn}/proof`)).toHaveLength(1);
      }
      expect(requests.filter((request) => request.path === '/v1/audit/keys')).toHaveLength(1);
    },
    PAGE_TEST_TIMEOUT_MS,
  );

  it(
    'forks the conversation at the chosen answer and opens the fork',
    async () => {
      const server = {
        conversations: {
          [CONVERSATION]: conversation(
            [
              message('m-1', 'user', 'First question', { turn_id: 'turn-1' }),
              message('m-2', 'assistant', 'First answer', { turn_id: 'turn-1' }),
            ],
            'One question',
          ),
        } as Record<string, ConversationDetail>,
        streams: [],
      };
      const requests = stubGateway(server);
      const user = userEvent.setup();
      renderChat(`/c/${CONVERSATION}`);

      const answer = await screen.findByRole('article', { name: 'Assistant' });
      await user.click(within(answer).getByRole('button', { name: 'Fork' }));
      await waitFor(() => {
        expect(requests).toContainEqual({
          method: 'POST',
          path: `/v1/conversations/${CONVERSATION}/fork`,
          body: { message_id: 'm-2' },
        });
      });
      await waitFor(() => {
        expect(screen.getByRole('status', { name: 'Current path' })).toHaveTextContent(`/c/${FORK}`);
      });
      expect(requests.some((request) => request.path === '/v1/chat/stream')).toBe(false);
    },
    PAGE_TEST_TIMEOUT_MS,
  );
});
