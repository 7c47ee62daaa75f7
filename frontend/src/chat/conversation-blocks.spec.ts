import { screen } from '@testing-library/react';
import { createElement, Fragment } from 'react';
import { describe, expect, it } from 'vitest';

import { renderWithProviders } from '../test-utils.js';
import type { StoredMessage } from './chat-api.js';
import {
  conversationBlocks,
  storedBlocks,
  unfinishedTurn,
  userContentView,
  withText,
} from './conversation-blocks.js';
import type { LiveTurn } from './live-turns.js';
import { ToolCallCard } from './ToolCallCard.js';

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
    tool_outcome: null,
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

describe('stored tool calls, after a reload', () => {
  const DENIED = 'The user did not approve this tool call, so it was not run.';
  const RELOADED = [
    stored('u', 'user', 'Run all four'),
    stored('a1', 'assistant', '', {
      tool_calls: [
        call('c-ok', 'current_time'),
        call('c-failed', 'sandbox_exec'),
        call('c-denied', 'http_fetch'),
        call('c-old', 'sandbox_files'),
      ],
    }),
    stored('t-ok', 'tool', 'noon', { tool_call_id: 'c-ok', tool_outcome: { ok: true, code: null } }),
    stored('t-failed', 'tool', 'exit 1', {
      tool_call_id: 'c-failed',
      tool_outcome: { ok: false, code: 'tool_failed' },
    }),
    stored('t-denied', 'tool', DENIED, {
      tool_call_id: 'c-denied',
      tool_outcome: { ok: false, code: 'tool_denied' },
    }),
    // Stored before the runtime kept outcomes.
    stored('t-old', 'tool', 'a.txt (3 bytes)', { tool_call_id: 'c-old' }),
    stored('a2', 'assistant', 'One of them failed.'),
  ];

  it('puts the stored outcome into each result, and leaves it unknown for an older message', () => {
    const answer = storedBlocks(RELOADED)[1];
    const results =
      answer?.kind === 'assistant'
        ? answer.parts.flatMap((part) => (part.kind === 'tool' ? [[part.id, part.result]] : []))
        : [];
    expect(results).toEqual([
      ['c-ok', { ok: true, output: 'noon' }],
      ['c-failed', { ok: false, code: 'tool_failed', output: 'exit 1' }],
      ['c-denied', { ok: false, code: 'tool_denied', output: DENIED }],
      ['c-old', { output: 'a.txt (3 bytes)' }],
    ]);
  });

  it('shows Done, Failed with its code, Denied, and Finished only where the outcome is unknown', () => {
    const answer = storedBlocks(RELOADED)[1];
    const parts = answer?.kind === 'assistant' ? answer.parts : [];
    renderWithProviders(
      createElement(
        Fragment,
        null,
        ...parts.flatMap((part) =>
          part.kind === 'tool' ? [createElement(ToolCallCard, { key: part.id, part, running: false })] : [],
        ),
      ),
    );
    // The card's header is the tool's name, then its status.
    const status = (tool: string) =>
      screen.getByRole('button', { name: new RegExp(`^${tool}`) }).textContent.slice(tool.length);
    expect(status('current_time')).toBe('Done');
    expect(status('sandbox_exec')).toBe('Failed: tool_failed');
    expect(status('http_fetch')).toBe('Denied');
    expect(status('sandbox_files')).toBe('Finished');
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
