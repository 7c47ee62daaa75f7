import { configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { jsonResponse, renderWithProviders } from '../../test-utils.js';
import { SandboxesPage } from './SandboxesPage.js';

// Rendering a page is slow on a busy machine: wait for what a user would see longer than the default second.
configure({ asyncUtilTimeout: 5000 });

const WEB = '0191aaaa-0000-7000-8000-000000000001';
const BUILD = '0191bbbb-0000-7000-8000-000000000002';
const BROKEN = '0191cccc-0000-7000-8000-000000000003';

function sandbox(id: string, name: string, state: string, labels: Record<string, string> = {}) {
  return {
    id,
    name,
    labels,
    owner_id: 'u-ada',
    runtime: 'process',
    state,
    error: state === 'failed' ? { code: 'script_failed', message: 'setup.sh exited with 1' } : null,
    spec: {},
    expires_at: null,
    created_at: '2026-03-02T10:00:00.000Z',
    updated_at: '2026-03-02T10:00:00.000Z',
  };
}

type Row = ReturnType<typeof sandbox>;

/** code-sandbox behind the gateway, keeping its sandboxes' states between requests. */
function serve(rows: Row[], refuse?: { action: string; code: string; message: string }) {
  const calls: { method: string; path: string }[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn((input: string, init?: RequestInit) => {
      const url = new URL(input, 'http://localhost');
      const method = init?.method ?? 'GET';
      calls.push({ method, path: url.pathname });
      if (url.pathname === '/v1/me')
        return Promise.resolve(jsonResponse({ tid: 't1', uid: 'a', email: '', roles: ['admin'] }));
      if (url.pathname === '/v1/sandbox/sandboxes' && method === 'GET')
        return Promise.resolve(jsonResponse({ data: rows }));
      const match = /^\/v1\/sandbox\/sandboxes\/([^/]+)(?:\/(stop|start))?$/.exec(url.pathname);
      const row = rows.find((candidate) => candidate.id === match?.[1]);
      if (match === null || row === undefined) {
        return Promise.resolve(jsonResponse({ error: 'No such sandbox', code: 'sandbox_unknown' }, 404));
      }
      const action = method === 'DELETE' ? 'delete' : match[2];
      if (refuse !== undefined && refuse.action === action) {
        return Promise.resolve(jsonResponse({ error: refuse.message, code: refuse.code }, 409));
      }
      if (action === 'stop') row.state = 'stopped';
      if (action === 'start') row.state = 'ready';
      if (action === 'delete') row.state = 'deleting';
      return Promise.resolve(jsonResponse(row, 202));
    }),
  );
  return calls;
}

function rowOf(name: string): HTMLElement {
  const row = screen.getByText(name).closest('tr');
  if (row === null) throw new Error(`no row for ${name}`);
  return row;
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe('SandboxesPage', { timeout: 30_000 }, () => {
  it('lists the sandboxes with their owner, runtime, labels and state', async () => {
    serve([
      sandbox(WEB, 'web-1', 'ready', { team: 'search' }),
      sandbox(BUILD, 'build-7', 'stopped'),
      sandbox(BROKEN, 'broken', 'failed'),
    ]);
    renderWithProviders(<SandboxesPage />, { path: '/admin/sandboxes' });

    expect(await screen.findByText('web-1')).toBeInTheDocument();
    expect(within(rowOf('web-1')).getByText('ready')).toBeInTheDocument();
    expect(within(rowOf('web-1')).getByText('team=search')).toBeInTheDocument();
    expect(within(rowOf('web-1')).getByText('u-ada')).toBeInTheDocument();
    expect(within(rowOf('web-1')).getByRole('link', { name: '0191aaaa…0001' })).toHaveAttribute(
      'href',
      `/admin/sandboxes/${WEB}`,
    );
    expect(within(rowOf('build-7')).getByText('stopped')).toBeInTheDocument();
    expect(within(rowOf('broken')).getByText('failed')).toBeInTheDocument();
    // What each state allows: stop a ready one, start a stopped one, no stop for a failed one.
    expect(within(rowOf('web-1')).getByRole('button', { name: 'Stop web-1' })).toBeEnabled();
    expect(within(rowOf('build-7')).getByRole('button', { name: 'Start build-7' })).toBeEnabled();
    expect(within(rowOf('broken')).getByRole('button', { name: 'Stop broken' })).toBeDisabled();
    expect(within(rowOf('broken')).getByRole('button', { name: 'Delete broken' })).toBeEnabled();
  });

  it('says so when there is no sandbox', async () => {
    serve([]);
    renderWithProviders(<SandboxesPage />, { path: '/admin/sandboxes' });
    expect(await screen.findByText(/No sandboxes\./)).toBeInTheDocument();
  });

  it('stops a sandbox: the stop is posted and the row shows it stopped', async () => {
    const calls = serve([sandbox(WEB, 'web-1', 'ready')]);
    renderWithProviders(<SandboxesPage />, { path: '/admin/sandboxes' });
    await userEvent.click(await screen.findByRole('button', { name: 'Stop web-1' }));

    await waitFor(() => {
      expect(within(rowOf('web-1')).getByText('stopped')).toBeInTheDocument();
    });
    expect(calls).toContainEqual({ method: 'POST', path: `/v1/sandbox/sandboxes/${WEB}/stop` });
    expect(within(rowOf('web-1')).getByRole('button', { name: 'Start web-1' })).toBeEnabled();
  });

  it('deletes only after confirmation', async () => {
    const calls = serve([sandbox(WEB, 'web-1', 'ready')]);
    renderWithProviders(<SandboxesPage />, { path: '/admin/sandboxes' });
    await userEvent.click(await screen.findByRole('button', { name: 'Delete web-1' }));

    const dialog = await screen.findByRole('dialog', { name: 'Delete web-1?' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(calls.some((call) => call.method === 'DELETE')).toBe(false);

    await userEvent.click(screen.getByRole('button', { name: 'Delete web-1' }));
    await userEvent.click(
      within(await screen.findByRole('dialog', { name: 'Delete web-1?' })).getByRole('button', {
        name: 'Delete sandbox',
      }),
    );
    await waitFor(() => {
      expect(within(rowOf('web-1')).getByText('deleting')).toBeInTheDocument();
    });
    expect(calls).toContainEqual({ method: 'DELETE', path: `/v1/sandbox/sandboxes/${WEB}` });
  });

  it('shows a refused action as an error and leaves the state as it was', async () => {
    serve([sandbox(WEB, 'web-1', 'ready')], {
      action: 'stop',
      code: 'sandbox_not_ready',
      message: 'it is provisioning',
    });
    renderWithProviders(<SandboxesPage />, { path: '/admin/sandboxes' });
    await userEvent.click(await screen.findByRole('button', { name: 'Stop web-1' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveAttribute('data-error-code', 'sandbox_not_ready');
    expect(within(rowOf('web-1')).getByText('ready')).toBeInTheDocument();
  });

  it('keeps reading the list while a sandbox is still provisioning, until it settles', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const rows = [sandbox(BUILD, 'build-7', 'provisioning')];
    serve(rows);
    renderWithProviders(<SandboxesPage />, { path: '/admin/sandboxes' });
    expect(await screen.findByText('provisioning')).toBeInTheDocument();

    const row = rows[0];
    if (row !== undefined) row.state = 'ready';
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await screen.findByText('ready')).toBeInTheDocument();
  });
});
