import { configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { jsonResponse, renderWithProviders } from '../../test-utils.js';
import { AuditTurnPage } from './AuditTurnPage.js';

// Rendering a page is slow on a busy machine: wait for what a user would see longer than the default second.
configure({ asyncUtilTimeout: 5000 });

const TURN = '0190dddd-0000-7000-8000-000000000001';
const CALLED = '0190dddd-0000-7000-8000-0000000000e2';
const RETURNED = '0190dddd-0000-7000-8000-0000000000e3';

function event(
  index: number,
  id: string,
  type: string,
  attributes: Record<string, unknown>,
  artifacts: unknown[] = [],
) {
  return {
    index,
    event: {
      event_id: id,
      turn_id: TURN,
      tenant_id: 't1',
      user_id: 'alice',
      service: index === 0 ? 'gateway' : 'agent-runtime',
      type,
      occurred_at: `2026-03-02T10:00:0${String(index)}.000Z`,
      attributes,
      artifacts: [],
    },
    artifacts,
  };
}

function artifact(eventId: string, kind: string, contentType: string, stored = true) {
  return {
    kind,
    sha256: 'ab'.repeat(32),
    size: 48,
    content_type: contentType,
    stored,
    url: `/v1/audit/turns/${TURN}/artifacts/${eventId}/${kind}`,
  };
}

const replay = {
  turn_id: TURN,
  tenant_id: 't1',
  user_id: 'alice',
  state: 'sealed',
  events: [
    event(0, '0190dddd-0000-7000-8000-0000000000e1', 'turn_started', {}),
    event(1, CALLED, 'tool_called', { tool: 'web_search', tool_call_id: 'call-1' }, [
      artifact(CALLED, 'arguments', 'application/json'),
    ]),
    event(2, RETURNED, 'tool_returned', { tool: 'web_search', ok: true, duration_ms: 420 }, [
      artifact(RETURNED, 'output', 'text/plain; charset=utf-8'),
      artifact(RETURNED, 'stdout', 'text/plain; charset=utf-8', false),
    ]),
    event(3, '0190dddd-0000-7000-8000-0000000000e4', 'turn_sealed', { status: 'done' }),
  ],
};

function serve() {
  const requested: string[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn((input: string) => {
      const url = new URL(input, 'http://localhost');
      requested.push(url.pathname);
      if (url.pathname === '/v1/me')
        return Promise.resolve(jsonResponse({ tid: 't1', uid: 'a', email: '', roles: ['admin'] }));
      if (url.pathname === `/v1/audit/turns/${TURN}/replay`) return Promise.resolve(jsonResponse(replay));
      if (url.pathname === `/v1/audit/turns/${TURN}/artifacts/${CALLED}/arguments`) {
        return Promise.resolve(
          new Response('{"query":"weather in Lyon"}', { headers: { 'content-type': 'application/json' } }),
        );
      }
      if (url.pathname === `/v1/audit/turns/${TURN}/artifacts/${RETURNED}/output`) {
        return Promise.resolve(new Response('Sunny, 21 °C', { headers: { 'content-type': 'text/plain' } }));
      }
      return Promise.resolve(
        jsonResponse({ error: 'No such turn in your audit log', code: 'turn_unknown' }, 404),
      );
    }),
  );
  return requested;
}

function renderTurn() {
  return renderWithProviders(
    <Routes>
      <Route path="/admin/audit/turns/:turnId" element={<AuditTurnPage />} />
    </Routes>,
    { path: `/admin/audit/turns/${TURN}` },
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('AuditTurnPage', { timeout: 30_000 }, () => {
  it('replays the turn as a timeline of events in words, in commit order, with their main attributes', async () => {
    serve();
    renderTurn();
    const replayRegion = await screen.findByRole('region', { name: 'Replay' });
    const titles = within(replayRegion)
      .getAllByRole('heading', { level: 3 })
      .map((heading) => heading.textContent);
    expect(titles).toEqual(['Turn started', 'Tool called', 'Tool returned', 'Turn sealed']);
    expect(within(replayRegion).getAllByText('web_search')).toHaveLength(2);
    expect(within(replayRegion).getByText('Body not captured')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /^Receipt/ })).toBeInTheDocument();

    await userEvent.click(
      within(replayRegion).getAllByRole('button', { name: 'All attributes' })[0] as HTMLElement,
    );
    expect(within(replayRegion).getByText(/"tool_call_id": "call-1"/)).toBeInTheDocument();
  });

  it('previews a small JSON artifact on demand, indented', async () => {
    const requested = serve();
    renderTurn();
    const preview = await screen.findByRole('button', { name: 'Preview arguments' });
    expect(requested.some((path) => path.endsWith('/arguments'))).toBe(false);

    await userEvent.click(preview);
    expect(await screen.findByText(/"query": "weather in Lyon"/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Hide arguments' })).toHaveAttribute('aria-expanded', 'true');
  });

  it('downloads an artifact as a file', async () => {
    const requested = serve();
    // jsdom has no object URLs; the page hands the blob to one and clicks a download link.
    const createObjectURL = vi.fn((_blob: Blob) => 'blob:artifact');
    Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() });
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => undefined);
    renderTurn();

    await userEvent.click(await screen.findByRole('button', { name: 'Download output' }));

    await waitFor(() => {
      expect(click).toHaveBeenCalled();
    });
    expect(requested).toContain(`/v1/audit/turns/${TURN}/artifacts/${RETURNED}/output`);
    const blob = createObjectURL.mock.calls[0]?.[0];
    expect(await blob?.text()).toBe('Sunny, 21 °C');
  });

  it('says so when the turn is not there', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(() =>
        Promise.resolve(jsonResponse({ error: 'No such turn in your audit log', code: 'turn_unknown' }, 404)),
      ),
    );
    renderTurn();
    expect(await screen.findByText('That answer could not be found.')).toBeInTheDocument();
  });
});
