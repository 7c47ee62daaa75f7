import type { ProofEvent } from '@aibox/audit-proof';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { renderWithProviders } from '../test-utils.js';
import { EventTimeline } from './EventTimeline.js';

function proofEvent(
  index: number,
  type: string,
  service: string,
  attributes: Record<string, unknown>,
): ProofEvent {
  return {
    index,
    event: {
      event_id: `0190a4f2-7b3c-7def-9abc-${String(index).padStart(12, '0')}`,
      turn_id: '0190a4f2-7b3c-7def-8abc-000000000001',
      tenant_id: 'acme',
      user_id: 'ada',
      service,
      type,
      occurred_at: new Date(Date.UTC(2026, 10, 22, 12, 0, index)).toISOString(),
      attributes,
      artifacts: type === 'sandbox_exec' ? [{ kind: 'stdout', sha256: 'ab'.repeat(32), size: 3 }] : [],
    },
    leaf_hash: 'cd'.repeat(32),
    inclusion: [],
  };
}

/** An element whose whole text (label and value in their own spans) reads `text`, innermost only. */
function wholeText(text: string) {
  return (_content: string, element: Element | null): boolean =>
    element?.textContent === text &&
    Array.from(element.children).every((child) => child.textContent !== text);
}

const events = [
  proofEvent(0, 'turn_started', 'gateway', {}),
  proofEvent(1, 'model_response', 'inference-router', {
    model: 'gpt-4o-mini',
    outcome: 'ok',
    usage: { prompt_tokens: 120, completion_tokens: 45, cached_tokens: 0 },
  }),
  proofEvent(2, 'tool_called', 'agent-runtime', { tool: 'web_search', tool_call_id: 'call_1' }),
  proofEvent(3, 'approval_decided', 'agent-runtime', { tool: 'sandbox_exec', decision: 'approved' }),
  proofEvent(4, 'sandbox_exec', 'agent-runtime', { language: 'python', status: 'exited', exit_code: 0 }),
  proofEvent(5, 'custom_probe', 'agent-runtime', {}),
  proofEvent(6, 'turn_failed', 'agent-runtime', { status: 'failed', code: 'runtime_restarted' }),
];

describe('EventTimeline', () => {
  it('says each event in words with its service and main attributes', () => {
    renderWithProviders(<EventTimeline events={events} />);

    for (const label of [
      'Turn started',
      'Model answered',
      'Tool called',
      'Approval decided',
      'Code run in sandbox',
      'Custom probe',
      'Turn failed',
    ])
      expect(screen.getByText(label)).toBeInTheDocument();
    expect(screen.getAllByText(/^inference-router ·/u)).toHaveLength(1);
    expect(screen.getByText(wholeText('Model gpt-4o-mini'))).toBeInTheDocument();
    expect(screen.getByText(wholeText('Tokens 120 in · 45 out'))).toBeInTheDocument();
    expect(screen.getByText(wholeText('Tool web_search'))).toBeInTheDocument();
    expect(screen.getByText(wholeText('Decision approved'))).toBeInTheDocument();
    expect(screen.getByText(wholeText('Exit code 0'))).toBeInTheDocument();
    expect(screen.getByText(wholeText('Error runtime_restarted'))).toBeInTheDocument();
  });

  it('opens the full attributes of one event on demand', async () => {
    renderWithProviders(<EventTimeline events={events} />);
    const toggle = screen.getByRole('button', { name: 'Attributes of Code run in sandbox' });
    expect(toggle).toHaveAttribute('aria-expanded', 'false');
    expect(screen.queryByText(/"language": "python"/u)).not.toBeInTheDocument();

    await userEvent.click(toggle);

    expect(toggle).toHaveAttribute('aria-expanded', 'true');
    expect(await screen.findByText(/"language": "python"/u)).toBeInTheDocument();
    expect(screen.getByText('Captured: stdout')).toBeInTheDocument();
  });
});
