import { afterEach, describe, expect, it, vi } from 'vitest';

import { runTurnStream, turnText, type TurnState } from './turn-stream.js';

const TURN = '0b0f6c5e-8a57-4c1a-9a51-2f1f1d3c0001';
const CONVERSATION = '0b0f6c5e-8a57-4c1a-9a51-2f1f1d3c0002';

function frame(id: number, event: string, data: unknown, newline = '\n'): string {
  return [`id: ${id}`, `event: ${event}`, `data: ${JSON.stringify(data)}`, '', ''].join(newline);
}

const turnEvent = (id = 1) =>
  frame(id, 'turn', { turn_id: TURN, conversation_id: CONVERSATION, agent_id: 'default', kind: 'chat' });
const delta = (id: number, text: string) => frame(id, 'delta', { text });
const done = (id: number) =>
  frame(id, 'done', {
    turn_id: TURN,
    conversation_id: CONVERSATION,
    message_id: 'm-1',
    receipt_url: `/v1/receipts/${TURN}`,
  });

/** An SSE response whose body delivers `chunks` as they are cut, then ends (or breaks, like a dropped connection). */
function sseResponse(chunks: readonly (string | Uint8Array)[], { breaks = false } = {}): Response {
  const encoder = new TextEncoder();
  let next = 0;
  // Pulled one chunk at a time: erroring a stream drops what is still queued, as a real drop would not.
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[next];
      next += 1;
      if (chunk !== undefined) controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
      else if (breaks) controller.error(new TypeError('network connection was lost'));
      else controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

interface Call {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: unknown;
}

/** Stubs fetch with one answer per call, in order, and records what was asked. */
function stubFetch(answers: readonly (() => Response | Promise<Response>)[]): Call[] {
  const calls: Call[] = [];
  let next = 0;
  vi.stubGlobal('fetch', (input: RequestInfo | URL, init: RequestInit = {}) => {
    calls.push({
      url: typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
      method: init.method ?? 'GET',
      headers: new Headers(init.headers),
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    });
    const answer = answers[next];
    next += 1;
    if (answer === undefined) return Promise.reject(new TypeError('Failed to fetch'));
    return Promise.resolve(answer());
  });
  return calls;
}

const immediately = () => 0;

function start(): Promise<TurnState> {
  return runTurnStream({ kind: 'start', request: { message: 'hi' } }, { reconnectDelayMs: immediately });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('runTurnStream', () => {
  it('posts the request and concatenates the deltas in order', async () => {
    const calls = stubFetch([
      () => sseResponse([turnEvent() + delta(2, 'Hel') + delta(3, 'lo, ') + delta(4, 'world') + done(5)]),
    ]);
    const seen: string[] = [];
    const state = await runTurnStream(
      { kind: 'start', request: { message: 'hi', agent_id: 'default' } },
      { onState: (next) => seen.push(turnText(next.parts)) },
    );
    expect(calls[0]).toMatchObject({
      url: '/v1/chat/stream',
      method: 'POST',
      body: { message: 'hi', agent_id: 'default' },
    });
    expect(state.status).toBe('done');
    expect(turnText(state.parts)).toBe('Hello, world');
    expect(state).toMatchObject({ turnId: TURN, conversationId: CONVERSATION, messageId: 'm-1' });
    expect(seen).toContain('Hel');
    expect(seen).toContain('Hello,');
  });

  it('pairs tool results with their calls by id and keeps text and tools in order', async () => {
    stubFetch([
      () =>
        sseResponse([
          turnEvent(),
          delta(2, 'Let me check.'),
          frame(3, 'tool_call', { id: 'call-a', name: 'current_time', arguments: '{"timezone":"UTC"}' }),
          frame(4, 'tool_call', {
            id: 'call-b',
            name: 'http_fetch',
            arguments: '{"url":"https://example.com"}',
          }),
          frame(5, 'tool_result', {
            id: 'call-b',
            name: 'http_fetch',
            ok: false,
            code: 'tool_timeout',
            output: 'slow',
          }),
          frame(6, 'tool_result', { id: 'call-a', name: 'current_time', ok: true, output: '12:00' }),
          delta(7, 'It is noon.'),
          done(8),
        ]),
    ]);
    const state = await start();
    expect(state.parts).toEqual([
      { kind: 'text', text: 'Let me check.' },
      {
        kind: 'tool',
        id: 'call-a',
        name: 'current_time',
        arguments: '{"timezone":"UTC"}',
        result: { ok: true, output: '12:00' },
      },
      {
        kind: 'tool',
        id: 'call-b',
        name: 'http_fetch',
        arguments: '{"url":"https://example.com"}',
        result: { ok: false, code: 'tool_timeout', output: 'slow' },
      },
      { kind: 'text', text: 'It is noon.' },
    ]);
  });

  it('follows an approval from required to decided, and takes the title and usage', async () => {
    const states: TurnState[] = [];
    stubFetch([
      () =>
        sseResponse([
          turnEvent(),
          frame(2, 'tool_call', { id: 'call-a', name: 'sandbox_exec', arguments: '{"code":"1+1"}' }),
          frame(3, 'approval_required', {
            approval_id: 'ap-1',
            tool_call_id: 'call-a',
            name: 'sandbox_exec',
            arguments: '{"code":"1+1"}',
            expires_at: '2030-01-01T00:00:00.000Z',
          }),
          frame(4, 'title', { conversation_id: CONVERSATION, title: 'Adding numbers' }),
          frame(5, 'approval_decided', {
            approval_id: 'ap-1',
            tool_call_id: 'call-a',
            decision: 'denied',
            reason: null,
          }),
          frame(6, 'tool_result', {
            id: 'call-a',
            name: 'sandbox_exec',
            ok: false,
            code: 'tool_denied',
            output: 'no',
          }),
          frame(7, 'usage', {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 15,
            model_calls: 2,
            model: 'm',
          }),
          done(8),
        ]),
    ]);
    const state = await runTurnStream(
      { kind: 'start', request: { message: 'hi' } },
      { onState: (next) => states.push(next) },
    );
    const pending = states.find((next) => next.lastEventId === 3);
    expect(pending?.parts[0]).toMatchObject({
      kind: 'tool',
      approval: { approvalId: 'ap-1', expiresAt: '2030-01-01T00:00:00.000Z' },
    });
    expect(pending?.parts[0]).not.toHaveProperty('approval.decision');
    expect(state.parts[0]).toMatchObject({
      approval: { approvalId: 'ap-1', decision: 'denied' },
      result: { ok: false, code: 'tool_denied' },
    });
    expect(state.title).toBe('Adding numbers');
    expect(state.usage).toMatchObject({ total_tokens: 15, model_calls: 2 });
    expect(state.status).toBe('done');
  });

  it('ends with the code and sentence of an error event, without reconnecting', async () => {
    const calls = stubFetch([
      () =>
        sseResponse([
          turnEvent(),
          frame(2, 'error', {
            error: 'No backend for role default',
            code: 'role_not_configured',
            turn_id: TURN,
            receipt_url: `/v1/receipts/${TURN}`,
          }),
        ]),
    ]);
    const state = await start();
    expect(state.status).toBe('failed');
    expect(state.error).toEqual({ code: 'role_not_configured', message: 'No backend for role default' });
    expect(calls).toHaveLength(1);
  });

  it('fails with the API error of a refused request', async () => {
    const calls = stubFetch([
      () =>
        new Response(
          JSON.stringify({
            error: 'report.pdf: application/pdf files cannot be read here',
            code: 'attachment_unsupported',
          }),
          {
            status: 400,
            headers: { 'content-type': 'application/json' },
          },
        ),
    ]);
    const state = await start();
    expect(state.error?.code).toBe('attachment_unsupported');
    expect(calls).toHaveLength(1);
  });

  describe('reads events across any chunk boundary', () => {
    const events = [
      turnEvent(),
      delta(2, 'Grüße, '),
      frame(3, 'tool_call', { id: 'c', name: 'current_time', arguments: '{}' }),
      ': ping\n\n',
      frame(4, 'tool_result', { id: 'c', name: 'current_time', ok: true, output: 'now' }),
      delta(5, 'multi\nline 🙂'),
      done(6),
    ];
    const whole = events.join('');

    async function parse(chunks: readonly (string | Uint8Array)[]): Promise<TurnState> {
      stubFetch([() => sseResponse(chunks)]);
      return start();
    }

    it('one byte at a time (cutting through multi-byte characters) equals everything at once', async () => {
      const atOnce = await parse([whole]);
      const bytes = new TextEncoder().encode(whole);
      const byCharacter = await parse(Array.from(bytes, (byte) => Uint8Array.of(byte)));
      expect(atOnce.status).toBe('done');
      expect(turnText(atOnce.parts)).toBe('Grüße, \n\nmulti\nline 🙂');
      expect(byCharacter).toEqual(atOnce);
    });

    it('an event split across chunks, and several events in one chunk', async () => {
      const atOnce = await parse([whole]);
      const cut = [whole.slice(0, 17), whole.slice(17, 180), whole.slice(180, 181), whole.slice(181)];
      expect(await parse(cut)).toEqual(atOnce);
    });

    it('CRLF line endings', async () => {
      const crlf = [
        frame(1, 'turn', { turn_id: TURN, conversation_id: CONVERSATION, agent_id: 'default' }, '\r\n'),
        frame(2, 'delta', { text: 'a' }, '\r\n'),
        frame(3, 'delta', { text: 'b' }, '\r\n'),
        frame(4, 'done', { turn_id: TURN, conversation_id: CONVERSATION, message_id: 'm-1' }, '\r\n'),
      ].join('');
      // Cut between \r and \n, where a careless parser sees an extra blank line.
      const at = crlf.indexOf('\r\n') + 1;
      const state = await parse([crlf.slice(0, at), crlf.slice(at)]);
      expect(state.status).toBe('done');
      expect(turnText(state.parts)).toBe('ab');
    });
  });

  it('resumes after a drop with Last-Event-ID and neither doubles nor loses a delta', async () => {
    const calls = stubFetch([
      // Drops in the middle of event 4.
      () =>
        sseResponse([turnEvent(), delta(2, 'The '), delta(3, 'quick '), 'id: 4\nevent: delta\ndata: {"te'], {
          breaks: true,
        }),
      // The resume overlaps (event 3 again), as a proxy's replay might; it must not be added twice.
      () => sseResponse([delta(3, 'quick '), delta(4, 'brown '), delta(5, 'fox')]),
      // Ends cleanly but early: another resume, from event 5.
      () => sseResponse([delta(6, ' jumps'), done(7)]),
    ]);
    const statuses: string[] = [];
    const state = await runTurnStream(
      { kind: 'start', request: { message: 'hi' } },
      { reconnectDelayMs: immediately, onState: (next) => statuses.push(next.status) },
    );
    expect(turnText(state.parts)).toBe('The quick brown fox jumps');
    expect(state.status).toBe('done');
    expect(calls.map((call) => [call.method, call.url, call.headers.get('last-event-id')])).toEqual([
      ['POST', '/v1/chat/stream', null],
      ['GET', `/v1/chat/${TURN}/stream`, '3'],
      ['GET', `/v1/chat/${TURN}/stream`, '5'],
    ]);
    expect(statuses).toContain('reconnecting');
  });

  it('follows a running turn from the start when asked to resume it', async () => {
    const calls = stubFetch([() => sseResponse([turnEvent(), delta(2, 'again'), done(3)])]);
    const state = await runTurnStream({ kind: 'resume', turnId: TURN }, { reconnectDelayMs: immediately });
    expect(calls[0]).toMatchObject({ method: 'GET', url: `/v1/chat/${TURN}/stream` });
    expect(calls[0]?.headers.get('last-event-id')).toBeNull();
    expect(turnText(state.parts)).toBe('again');
  });

  it('gives up with network_error after the bounded number of reconnects', async () => {
    const calls = stubFetch([() => sseResponse([turnEvent(), delta(2, 'partial')], { breaks: true })]);
    const state = await runTurnStream(
      { kind: 'start', request: { message: 'hi' } },
      { reconnectDelayMs: immediately, maxReconnects: 3 },
    );
    expect(state.status).toBe('failed');
    expect(state.error?.code).toBe('network_error');
    expect(turnText(state.parts)).toBe('partial');
    expect(calls).toHaveLength(4);
    expect(calls.slice(1).every((call) => call.headers.get('last-event-id') === '2')).toBe(true);
  });

  it('stops quietly when aborted', async () => {
    const controller = new AbortController();
    stubFetch([
      () => {
        controller.abort();
        return sseResponse([turnEvent()], { breaks: true });
      },
    ]);
    const state = await runTurnStream(
      { kind: 'start', request: { message: 'hi' } },
      { signal: controller.signal, reconnectDelayMs: immediately },
    );
    expect(state.status).not.toBe('failed');
  });
});
