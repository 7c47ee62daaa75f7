import { formatCheckpoint, generateNoteSigner, signNote, toHex } from '@aibox/audit-proof';
import { configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { jsonResponse, renderWithProviders } from '../../test-utils.js';
import { AuditPage } from './AuditPage.js';

// Rendering a page is slow on a busy machine: wait for what a user would see longer than the default second.
configure({ asyncUtilTimeout: 5000 });

// UUIDv7 turn ids made in the same minute share their first block.
const TURN_A = '0190a1b2-0000-7000-8000-00000000aaaa';
const TURN_B = '0190a1b2-0000-7000-8000-00000000bbbb';
const TURN_C = '0190a1b2-0000-7000-8000-00000000cccc';

function turn(id: string, user: string) {
  return {
    turn_id: id,
    user_id: user,
    state: 'sealed',
    started_at: '2026-03-02T10:00:00.000Z',
    last_event_at: '2026-03-02T10:00:05.000Z',
    sealed_at: '2026-03-02T10:00:06.000Z',
    event_count: 7,
    log_index: 3,
  };
}

/** The gateway as these tests need it; every request is kept so a test can read what was asked. */
function serve(routes: Record<string, (url: URL) => Response | Promise<Response>>) {
  const requests: URL[] = [];
  const fetchStub = vi.fn((input: string) => {
    const url = new URL(input, 'http://localhost');
    requests.push(url);
    if (url.pathname === '/v1/me') {
      return Promise.resolve(
        jsonResponse({ tid: 't1', uid: 'admin-1', email: 'admin@example.com', roles: ['admin'] }),
      );
    }
    const route = routes[url.pathname];
    return Promise.resolve(
      route === undefined ? jsonResponse({ error: 'no such route', code: 'route_unknown' }, 404) : route(url),
    );
  });
  vi.stubGlobal('fetch', fetchStub);
  return { requests: (path: string) => requests.filter((url) => url.pathname === path) };
}

const emptyLog = () =>
  jsonResponse({ error: 'Your tenant log has no sealed turn yet, so no checkpoint', code: 'log_empty' }, 404);

beforeEach(() => {
  vi.unstubAllGlobals();
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('AuditPage', { timeout: 30_000 }, () => {
  it('sends the filters in the URL with the listing request and pages on with the cursor', async () => {
    const server = serve({
      '/v1/admin/audit/turns': (url) =>
        url.searchParams.has('cursor')
          ? jsonResponse({ turns: [turn(TURN_C, 'bob')] })
          : jsonResponse({ turns: [turn(TURN_A, 'alice'), turn(TURN_B, 'alice')], next_cursor: 'page-2' }),
      '/v1/audit/checkpoint': emptyLog,
    });
    renderWithProviders(<AuditPage />, {
      path: '/admin/audit?user=alice&type=tool_called&from=2026-03-01&to=2026-03-02',
    });

    expect(await screen.findByRole('link', { name: '0190a1b2…aaaa' })).toBeInTheDocument();
    const first = server.requests('/v1/admin/audit/turns')[0];
    expect(first?.searchParams.get('user')).toBe('alice');
    expect(first?.searchParams.get('type')).toBe('tool_called');
    // Calendar days in the viewer's zone; the last day is included, so `to` is the next midnight.
    expect(first?.searchParams.get('from')).toBe(new Date(2026, 2, 1).toISOString());
    expect(first?.searchParams.get('to')).toBe(new Date(2026, 2, 3).toISOString());
    expect(screen.getByLabelText('User id')).toHaveValue('alice');
    expect(screen.getByLabelText('Event type')).toHaveValue('tool_called');

    const rows = screen.getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(within(rows[1] as HTMLElement).getByRole('link')).toHaveAttribute(
      'href',
      `/admin/audit/turns/${TURN_A}`,
    );

    await userEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => {
      expect(screen.getAllByRole('row')).toHaveLength(4);
    });
    const second = server.requests('/v1/admin/audit/turns')[1];
    expect(second?.searchParams.get('cursor')).toBe('page-2');
    expect(second?.searchParams.get('user')).toBe('alice');
    expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();
  });

  it('applies filters typed into the form', async () => {
    const server = serve({
      '/v1/admin/audit/turns': () => jsonResponse({ turns: [] }),
      '/v1/audit/checkpoint': emptyLog,
    });
    renderWithProviders(<AuditPage />, { path: '/admin/audit' });
    expect(await screen.findByText('No turns recorded yet.')).toBeInTheDocument();
    expect(server.requests('/v1/admin/audit/turns')[0]?.searchParams.has('user')).toBe(false);

    await userEvent.type(screen.getByLabelText('User id'), 'carol');
    await userEvent.selectOptions(screen.getByLabelText('Event type'), 'turn_failed');
    await userEvent.click(screen.getByRole('button', { name: 'Apply filters' }));

    expect(await screen.findByText('No turns match these filters.')).toBeInTheDocument();
    const latest = server.requests('/v1/admin/audit/turns').at(-1);
    expect(latest?.searchParams.get('user')).toBe('carol');
    expect(latest?.searchParams.get('type')).toBe('turn_failed');
  });

  it('verifies the whole log on request and says ok with the counts', async () => {
    const server = serve({
      '/v1/admin/audit/turns': () => jsonResponse({ turns: [] }),
      '/v1/audit/checkpoint': emptyLog,
      '/v1/admin/audit/verify': () =>
        jsonResponse({
          ok: true,
          tenant_id: 't1',
          tree_size: 42,
          turns_checked: 42,
          events_checked: 1234,
          nodes_checked: 83,
          checkpoints_checked: 9,
        }),
    });
    renderWithProviders(<AuditPage />, { path: '/admin/audit' });
    expect(screen.queryByText('The log verifies')).not.toBeInTheDocument();
    expect(server.requests('/v1/admin/audit/verify')).toHaveLength(0);

    await userEvent.click(screen.getByRole('button', { name: 'Verify the log' }));

    const result = await screen.findByRole('status');
    expect(within(result).getByText('The log verifies')).toBeInTheDocument();
    const events = within(result).getByText('Events checked').closest('div');
    expect(events).toHaveTextContent((1234).toLocaleString());
    expect(within(result).getByText('Checkpoints checked').closest('div')).toHaveTextContent('9');
    expect(within(result).getByText('Log nodes checked').closest('div')).toHaveTextContent('83');
  });

  it('shows a verification failure with its code and a link to the damaged turn', async () => {
    serve({
      '/v1/admin/audit/turns': () => jsonResponse({ turns: [] }),
      '/v1/audit/checkpoint': emptyLog,
      '/v1/admin/audit/verify': () =>
        jsonResponse({
          ok: false,
          tenant_id: 't1',
          tree_size: 12,
          turns_checked: 5,
          events_checked: 30,
          nodes_checked: 9,
          checkpoints_checked: 1,
          failure: {
            code: 'events_root_mismatch',
            message: 'the events of the turn do not hash to its envelope root',
            log_index: 4,
            turn_id: TURN_B,
          },
        }),
    });
    renderWithProviders(<AuditPage />, { path: '/admin/audit' });
    await userEvent.click(screen.getByRole('button', { name: 'Verify the log' }));

    const alert = await screen.findByRole('alert');
    expect(within(alert).getByText('The log does not verify')).toBeInTheDocument();
    expect(within(alert).getByText('events_root_mismatch')).toBeInTheDocument();
    expect(
      within(alert).getByText('the events of the turn do not hash to its envelope root'),
    ).toBeInTheDocument();
    expect(within(alert).getByText('4')).toBeInTheDocument();
    expect(within(alert).getByRole('link', { name: '0190a1b2…bbbb' })).toHaveAttribute(
      'href',
      `/admin/audit/turns/${TURN_B}`,
    );
  });

  it('reads the latest signed checkpoint: origin, tree size, root and signer', async () => {
    const signer = await generateNoteSigner('aibox.local/audit');
    const root = new Uint8Array(32).map((_, index) => index * 7);
    const note = await signNote(
      formatCheckpoint({ origin: 'aibox.local/audit/t1', size: 1337, rootHash: root }),
      [signer],
    );
    serve({
      '/v1/admin/audit/turns': () => jsonResponse({ turns: [] }),
      '/v1/audit/checkpoint': () =>
        new Response(note, { headers: { 'content-type': 'text/plain; charset=utf-8' } }),
    });
    renderWithProviders(<AuditPage />, { path: '/admin/audit' });

    const card = screen.getByRole('region', { name: 'Latest checkpoint' });
    expect(await within(card).findByText('aibox.local/audit/t1')).toBeInTheDocument();
    expect(within(card).getByText('Tree size').closest('div')).toHaveTextContent((1337).toLocaleString());
    expect(within(card).getByText(toHex(root))).toBeInTheDocument();
    expect(within(card).getByText('Signed by').closest('div')).toHaveTextContent('aibox.local/audit');
    expect(within(card).getByLabelText('Signed note')).toHaveTextContent('— aibox.local/audit');
    expect(within(card).getByRole('button', { name: 'Copy the signed note' })).toBeInTheDocument();
  });

  it('says plainly that there is no checkpoint while the log is empty', async () => {
    serve({
      '/v1/admin/audit/turns': () => jsonResponse({ turns: [] }),
      '/v1/audit/checkpoint': emptyLog,
    });
    renderWithProviders(<AuditPage />, { path: '/admin/audit' });
    expect(await screen.findByText('No checkpoint yet: the log has no sealed turn.')).toBeInTheDocument();
  });
});
