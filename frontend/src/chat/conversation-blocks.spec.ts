import { describe, expect, it } from 'vitest';

import type { StoredMessage } from './chat-api.js';
import {
  conversationBlocks,
  storedBlocks,
  unfinishedTurn,
  userContentView,
  withText,
} from './conversation-blocks.js';
import type { LiveTurn } from './live-turns.js';

function stored(
  id: string,
  role: StoredMessage['role'],
  content: StoredMessage['content'],
  extra: Partial<StoredMessage> = {},
): StoredMessage {
  return {
    id,
    turn_id: 'turn-1',
    role,
    content,
    tool_calls: null,
    tool_call_id: null,
    status: 'complete',
    created_at: '2026-12-04T10:00:00.000Z',
    ...extra,
  };
}

const call = (id: string, name: string) => ({
  id,
  type: 'function' as const,
  function: { name, arguments: '{}' },
});

const TURN_MESSAGES = [
  stored('u', 'user', 'Two tools, please'),
  stored('a1', 'assistant', 'Checking.', {
    tool_calls: [call('c1', 'current_time'), call('c2', 'http_fetch')],
  }),
  stored('t2', 'tool', 'fetched', { tool_call_id: 'c2' }),
  stored('t1', 'tool', 'noon', { tool_call_id: 'c1' }),
  stored('a2', 'assistant', 'Done both.'),
];

describe('storedBlocks', () => {
  it('makes one answer of a turn’s assistant and tool messages, each result with its call', () => {
    const blocks = storedBlocks(TURN_MESSAGES);
    expect(blocks.map((block) => block.kind)).toEqual(['user', 'assistant']);
    const answer = blocks[1];
    expect(answer?.kind === 'assistant' && answer.parts).toEqual([
      { kind: 'text', text: 'Checking.' },
      { kind: 'tool', id: 'c1', name: 'current_time', arguments: '{}', result: { output: 'noon' } },
      { kind: 'tool', id: 'c2', name: 'http_fetch', arguments: '{}', result: { output: 'fetched' } },
      { kind: 'text', text: 'Done both.' },
    ]);
    expect(answer?.kind === 'assistant' && answer.lastMessageId).toBe('a2');
  });
});

function liveTurn(state: Partial<LiveTurn['state']>, extra: Partial<LiveTurn> = {}): LiveTurn {
  return {
    key: 'live-1',
    conversationId: 'conv',
    request: { conversation_id: 'conv', message: 'Two tools, please' },
    cancelling: false,
    state: {
      status: 'streaming',
      lastEventId: 3,
      turnId: 'turn-1',
      parts: [{ kind: 'text', text: 'Check' }],
      ...state,
    },
    ...extra,
  };
}

describe('conversationBlocks', () => {
  it('shows a running turn from its stream, with the stored question once it is stored', () => {
    const blocks = conversationBlocks(TURN_MESSAGES.slice(0, 3), liveTurn({}), 0);
    expect(blocks.map((block) => [block.kind, block.key])).toEqual([
      ['user', 'user-turn-1'],
      ['assistant', 'answer-turn-1'],
    ]);
    expect(blocks[1]?.kind === 'assistant' && blocks[1].status).toBe('streaming');
    expect(blocks[1]?.kind === 'assistant' && blocks[1].parts).toEqual([{ kind: 'text', text: 'Check' }]);
  });

  it('echoes the sent message until the store has it', () => {
    const blocks = conversationBlocks([], liveTurn({ turnId: undefined, parts: [] }), 0);
    expect(blocks[0]).toMatchObject({ kind: 'user', content: 'Two tools, please' });
    expect(blocks[1]).toMatchObject({ kind: 'assistant', status: 'streaming', parts: [] });
  });

  it('shows the stored answer once it was fetched after the end, keeping what only the stream knew', () => {
    const live = liveTurn(
      {
        status: 'done',
        parts: [
          {
            kind: 'tool',
            id: 'c1',
            name: 'current_time',
            arguments: '{}',
            result: { ok: false, code: 'tool_timeout', output: 'slow' },
          },
        ],
      },
      { endedAt: 1_000 },
    );
    expect(conversationBlocks(TURN_MESSAGES, live, 999)[1]).toMatchObject({ status: 'complete', live });
    const fromStore = conversationBlocks(TURN_MESSAGES, live, 1_001)[1];
    expect(fromStore?.kind === 'assistant' && fromStore.live).toBeUndefined();
    expect(fromStore?.kind === 'assistant' && fromStore.parts[1]).toMatchObject({
      id: 'c1',
      result: { ok: false, code: 'tool_timeout', output: 'noon' },
    });
  });
});

describe('user messages', () => {
  const withAttachments = [
    { type: 'text' as const, text: 'What is in these?' },
    { type: 'image_url' as const, image_url: { url: 'data:image/png;base64,AAAA' } },
    { type: 'text' as const, text: 'Attached file notes.md (text/markdown):\n\n# Notes' },
  ];

  it('shows the typed text, the images and the names of attached files', () => {
    expect(userContentView(withAttachments)).toEqual({
      text: 'What is in these?',
      images: ['data:image/png;base64,AAAA'],
      files: ['notes.md'],
    });
  });

  it('replaces only the typed text when edited', () => {
    expect(withText(withAttachments, 'And now?')).toEqual([
      { type: 'text', text: 'And now?' },
      withAttachments[1],
      withAttachments[2],
    ]);
    expect(withText('old', 'new')).toBe('new');
  });
});

describe('unfinishedTurn', () => {
  it('names the turn whose answer is not stored yet', () => {
    expect(unfinishedTurn(TURN_MESSAGES.slice(0, 1))).toBe('turn-1');
    expect(unfinishedTurn(TURN_MESSAGES.slice(0, 2))).toBe('turn-1');
    expect(unfinishedTurn(TURN_MESSAGES.slice(0, 4))).toBe('turn-1');
    expect(unfinishedTurn(TURN_MESSAGES)).toBeUndefined();
    expect(unfinishedTurn([])).toBeUndefined();
  });
});
