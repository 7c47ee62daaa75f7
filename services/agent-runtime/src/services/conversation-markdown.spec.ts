import { describe, expect, it } from 'vitest';

import type { Conversation, NewMessage, StoredMessage } from './conversation.js';
import { exportFileName, toExportDocument, toMarkdown } from './conversations.service.js';

const CONVERSATION: Conversation = {
  id: '0190a5c4-0000-7000-8000-000000000001',
  userId: 'ann',
  agentId: 'agent-default',
  title: 'Weekly report',
  forkedFrom: null,
  createdAt: new Date('2025-03-01T10:00:00.000Z'),
  updatedAt: new Date('2025-03-01T10:05:00.000Z'),
};

let seq = 0;
function stored(message: Omit<NewMessage, 'id' | 'turnId'>): StoredMessage {
  seq += 1;
  return {
    id: `m${seq}`,
    turnId: 't1',
    conversationId: CONVERSATION.id,
    seq,
    createdAt: new Date('2025-03-01T10:00:00.000Z'),
    ...message,
  };
}

describe('toMarkdown', () => {
  it('renders a turn with text, images, a tool call and its result', () => {
    const markdown = toMarkdown(CONVERSATION, [
      stored({
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this chart?' },
          { type: 'image_url', image_url: { url: 'https://files.example.test/chart (1).png' } },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
        ],
        status: 'complete',
      }),
      stored({
        role: 'assistant',
        content: 'Let me look it up.',
        toolCalls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'web_search', arguments: '{"query":"chart"}' },
          },
        ],
        status: 'complete',
      }),
      stored({ role: 'tool', content: 'result: 42', toolCallId: 'call_1', status: 'complete' }),
      stored({ role: 'assistant', content: 'It shows 42.', status: 'complete' }),
    ]);

    expect(markdown).toBe(
      [
        '# Weekly report',
        '',
        '- Conversation: `0190a5c4-0000-7000-8000-000000000001`',
        '- Created: 2025-03-01T10:00:00.000Z',
        '',
        '## User',
        '',
        'What is in this chart?',
        '',
        '![image](https://files.example.test/chart%20%281%29.png)',
        '',
        '[image]',
        '',
        '## Assistant',
        '',
        'Let me look it up.',
        '',
        '```json',
        '{',
        '  "name": "web_search",',
        '  "arguments": {',
        '    "query": "chart"',
        '  }',
        '}',
        '```',
        '',
        '## Tool result (`call_1`)',
        '',
        '```',
        'result: 42',
        '```',
        '',
        '## Assistant',
        '',
        'It shows 42.',
        '',
      ].join('\n'),
    );
  });

  it('says under a tool result that the tool failed or was denied, and nothing when it worked', () => {
    const result = (toolCallId: string, content: string, toolOutcome?: NewMessage['toolOutcome']) =>
      stored({
        role: 'tool',
        content,
        toolCallId,
        status: 'complete',
        ...(toolOutcome === undefined ? {} : { toolOutcome }),
      });
    const markdown = toMarkdown(CONVERSATION, [
      result('ok', 'fine', { ok: true, code: null }),
      result('broken', 'exit 1', { ok: false, code: 'tool_failed' }),
      result('refused', 'The user denied this tool call.', { ok: false, code: 'tool_denied' }),
      result('older', 'from before outcomes were kept'),
    ]);
    const after = (id: string) => markdown.split(`## Tool result (\`${id}\`)`)[1]?.split('## ')[0] ?? '';
    expect(after('ok')).not.toContain('_(');
    expect(after('broken')).toContain('_(the tool failed: `tool_failed`)_');
    expect(after('refused')).toContain('_(denied: the tool did not run)_');
    expect(after('older')).not.toContain('_(');
  });

  it('keeps fenced content inside its fence and links no script or data URLs', () => {
    const markdown = toMarkdown({ ...CONVERSATION, title: null }, [
      stored({
        role: 'tool',
        content: 'before\n```\nescaped?\n```\nafter',
        toolCallId: 'c',
        status: 'complete',
      }),
      stored({
        role: 'user',
        content: [{ type: 'image_url', image_url: { url: 'javascript:alert(1)' } }],
        status: 'complete',
      }),
    ]);
    expect(markdown).toContain('# Conversation\n');
    expect(markdown).toContain('````\nbefore\n```\nescaped?\n```\nafter\n````');
    expect(markdown).not.toContain('javascript:');
    expect(markdown).toContain('## User\n\n[image]');
  });

  it('shows arguments that are not JSON as a string, and marks answers that did not finish', () => {
    const markdown = toMarkdown(CONVERSATION, [
      stored({
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'c', type: 'function', function: { name: 'run', arguments: '{"cut off' } }],
        status: 'cancelled',
      }),
      stored({ role: 'assistant', content: 'Half', status: 'partial' }),
    ]);
    expect(markdown).toContain('"name": "run",\n  "arguments": "{\\"cut off"');
    expect(markdown).toContain('_(stopped before it finished)_');
    expect(markdown).toContain('Half\n\n_(incomplete answer)_');
  });

  it('names the fork a conversation came from', () => {
    const markdown = toMarkdown(
      { ...CONVERSATION, forkedFrom: { conversationId: 'c-source', messageId: 'm-source' } },
      [],
    );
    expect(markdown).toContain('- Forked from: `c-source` at message `m-source`');
  });

  it('puts a multi-line title on one heading line', () => {
    expect(toMarkdown({ ...CONVERSATION, title: 'two\nlines' }, [])).toMatch(/^# two lines\n/);
  });
});

describe('exportFileName', () => {
  it.each([
    ['Weekly report', 'Weekly report'],
    ['Q3 "report" / draft', 'Q3-report-draft'],
    ['Résumé notes', 'Resume notes'],
    ['../../etc/passwd', 'etc-passwd'],
    ['日本語', `conversation-${CONVERSATION.id}`],
    [null, `conversation-${CONVERSATION.id}`],
  ])('names %j as %j', (title, expected) => {
    expect(exportFileName({ ...CONVERSATION, title })).toBe(expected);
  });

  it('keeps names short', () => {
    expect(exportFileName({ ...CONVERSATION, title: 'x'.repeat(500) })).toHaveLength(80);
  });
});

describe('toExportDocument', () => {
  it('is version 1 with snake_case fields and ISO times', () => {
    const message = stored({ role: 'user', content: 'hi', status: 'complete' });
    const result = stored({
      role: 'tool',
      content: 'exit 1',
      toolCallId: 'call_1',
      toolOutcome: { ok: false, code: 'tool_failed' },
      status: 'complete',
    });
    expect(toExportDocument(CONVERSATION, [message, result])).toEqual({
      version: 1,
      conversation: {
        id: CONVERSATION.id,
        title: 'Weekly report',
        agent_id: 'agent-default',
        forked_from: null,
        created_at: '2025-03-01T10:00:00.000Z',
        updated_at: '2025-03-01T10:05:00.000Z',
      },
      messages: [
        {
          id: message.id,
          turn_id: 't1',
          role: 'user',
          content: 'hi',
          tool_calls: null,
          tool_call_id: null,
          tool_outcome: null,
          status: 'complete',
          created_at: '2025-03-01T10:00:00.000Z',
        },
        {
          id: result.id,
          turn_id: 't1',
          role: 'tool',
          content: 'exit 1',
          tool_calls: null,
          tool_call_id: 'call_1',
          tool_outcome: { ok: false, code: 'tool_failed' },
          status: 'complete',
          created_at: '2025-03-01T10:00:00.000Z',
        },
      ],
    });
  });
});
