import { configure, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { jsonResponse, renderWithProviders } from '../../test-utils.js';
import { SandboxPage } from './SandboxPage.js';

// Rendering a page is slow on a busy machine: wait for what a user would see longer than the default second.
configure({ asyncUtilTimeout: 5000 });

const ID = '0191aaaa-0000-7000-8000-000000000001';
const EXEC = '0191eeee-0000-7000-8000-000000000009';
const EARLIER_EXEC = '0191eeee-0000-7000-8000-000000000008';
const BASE = `/v1/sandbox/sandboxes/${ID}`;

interface SseMessage {
  readonly event: string;
  readonly id?: number;
  readonly data: unknown;
}

/**
 * An SSE body as code-sandbox writes it, cut into small chunks so messages arrive split across reads. A
 * sandbox's event stream stays open (`open`), as the service keeps it; an exec's ends after `exit`.
 */
function sse(messages: readonly SseMessage[], { open = false }: { open?: boolean } = {}): Response {
  const text = messages
    .map(
      (message) =>
        `${message.id === undefined ? '' : `id: ${String(message.id)}\n`}event: ${message.event}\ndata: ${JSON.stringify(message.data)}\n\n`,
    )
    .join('');
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 23) controller.enqueue(bytes.slice(at, at + 23));
      if (!open) controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
}

function event(seq: number, type: string, data: Record<string, unknown>): SseMessage {
  return {
    event: type,
    id: seq,
    data: { ...data, seq, at: `2026-03-02T10:00:${String(seq).padStart(2, '0')}.000Z` },
  };
}

function view(state: string) {
  return {
    id: ID,
    name: 'data-lab',
    labels: { team: 'science' },
    owner_id: 'u-ada',
    runtime: 'process',
    state,
    error: null,
    spec: {
      name: 'data-lab',
      labels: { team: 'science' },
      runtime: 'process',
      image: null,
      resources: { cpus: 2, memory_mb: 512, pids: 256, disk_mb: 1024 },
      ttl_s: 3600,
      idle_ttl_s: null,
      network: { mode: 'egress', allow: ['pypi.org'] },
      env: { API_TOKEN: '***' },
      credentials: [],
      mounts: [{ source: '/srv/data', target: '/mnt/data', writable: false }],
      git_repos: [
        {
          url: 'https://github.com/acme/lab.git',
          branch: 'main',
          depth: 1,
          dest: 'lab',
          credential: null,
          username: null,
        },
      ],
      provisioning_scripts: [],
      agent: { provider: 'none' },
    },
    expires_at: '2026-03-02T11:00:00.000Z',
    created_at: '2026-03-02T10:00:00.000Z',
    updated_at: '2026-03-02T10:00:00.000Z',
  };
}

function exec(
  status: string,
  exitCode: number | null,
  { id = EXEC, argv = ['python3', 'train.py'] }: { id?: string; argv?: string[] } = {},
) {
  return {
    id,
    sandbox_id: ID,
    argv,
    cwd: '/workspace',
    status,
    exit_code: exitCode,
    started_at: '2026-03-02T10:01:00.000Z',
    ended_at: status === 'running' ? null : '2026-03-02T10:01:05.000Z',
  };
}

function output(body: string, size: number, offset: number): Response {
  return new Response(body, {
    headers: {
      'content-type': 'application/octet-stream',
      'x-output-size': String(size),
      'x-output-offset': String(offset),
    },
  });
}

type Handler = (url: URL) => Response;

function serve(handlers: Record<string, Handler>) {
  const requests: { method: string; url: URL; signal: AbortSignal | undefined }[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn((input: string, init?: RequestInit) => {
      const url = new URL(input, 'http://localhost');
      requests.push({ method: init?.method ?? 'GET', url, signal: init?.signal ?? undefined });
      if (url.pathname === '/v1/me')
        return Promise.resolve(jsonResponse({ tid: 't1', uid: 'a', email: '', roles: ['admin'] }));
      const handler = handlers[url.pathname];
      return Promise.resolve(
        handler === undefined
          ? jsonResponse({ error: 'not here', code: 'route_unknown' }, 404)
          : handler(url),
      );
    }),
  );
  return requests;
}

const quietEvents = () =>
  sse([{ event: 'snapshot', data: { sandbox: view('ready'), seq: 0 } }], { open: true });

function renderSandbox() {
  return renderWithProviders(
    <Routes>
      <Route path="/admin/sandboxes/:sandboxId" element={<SandboxPage />} />
    </Routes>,
    { path: `/admin/sandboxes/${ID}` },
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('SandboxPage', { timeout: 30_000 }, () => {
  it('shows the spec: limits, network, masked env, mounts and repositories', async () => {
    serve({
      [BASE]: () => jsonResponse(view('ready')),
      [`${BASE}/events`]: quietEvents,
      [`${BASE}/execs`]: () => jsonResponse({ data: [] }),
      [`${BASE}/artifacts`]: () => jsonResponse({ data: [] }),
    });
    renderSandbox();
    const details = await screen.findByRole('region', { name: 'Details' });
    expect(
      await within(details).findByText('2 CPU · 512 MB memory · 256 processes · 1024 MB disk'),
    ).toBeInTheDocument();
    expect(within(details).getByText('pypi.org')).toBeInTheDocument();
    expect(within(details).getByText('API_TOKEN=***')).toBeInTheDocument();
    expect(within(details).getByText('/mnt/data ← /srv/data (read-only)')).toBeInTheDocument();
    expect(within(details).getByText('https://github.com/acme/lab.git @ main → lab')).toBeInTheDocument();
    expect(screen.getByRole('heading', { level: 1, name: 'data-lab' })).toBeInTheDocument();
    expect(screen.getByText('Nothing has run in this sandbox yet.')).toBeInTheDocument();
    expect(screen.getByText('No files have been copied out of this sandbox.')).toBeInTheDocument();
  });

  it('renders the event stream in sequence order and follows the live state', async () => {
    const requests = serve({
      [BASE]: () => jsonResponse(view('provisioning')),
      [`${BASE}/events`]: () =>
        sse(
          [
            { event: 'snapshot', data: { sandbox: view('provisioning'), seq: 4 } },
            event(1, 'state_changed', { state: 'pending' }),
            event(2, 'state_changed', { state: 'provisioning' }),
            event(3, 'provisioning_step', { step: 'Validate', status: 'started' }),
            event(4, 'provisioning_step', {
              step: 'Validate',
              status: 'completed',
              message: 'spec ok',
              duration_ms: 3,
            }),
            event(5, 'provisioning_step', { step: 'CloneRepositories', status: 'started' }),
            event(6, 'provisioning_step', {
              step: 'CloneRepositories',
              status: 'completed',
              message: 'cloned acme/lab',
              duration_ms: 2400,
            }),
            event(7, 'provisioning_complete', {}),
            event(8, 'state_changed', { state: 'ready' }),
          ],
          { open: true },
        ),
      [`${BASE}/execs`]: () => jsonResponse({ data: [] }),
      [`${BASE}/artifacts`]: () => jsonResponse({ data: [] }),
    });
    const { unmount } = renderSandbox();

    const timeline = await screen.findByLabelText('Sandbox events');
    await within(timeline).findByText('Provisioning complete');
    const sequence = within(timeline)
      .getAllByText(/^#\d+/)
      .map((meta) => Number(/^#(\d+)/.exec(meta.textContent)?.[1]));
    // A step's start and outcome are one entry, placed at its start.
    expect(sequence).toEqual([1, 2, 3, 5, 7, 8]);
    const clone = within(timeline).getByText('CloneRepositories').closest('.mantine-Timeline-item');
    expect(clone).toHaveTextContent('completed');
    expect(clone).toHaveTextContent('2.4 s');
    expect(clone).toHaveTextContent('cloned acme/lab');

    // The live state_changed (after the snapshot's seq 4) moved the header from provisioning to ready.
    const heading = screen.getByRole('heading', { level: 1, name: 'data-lab' });
    await waitFor(() => {
      expect(within(heading.parentElement as HTMLElement).getByText('ready')).toBeInTheDocument();
    });

    const stream = requests.find((request) => request.url.pathname === `${BASE}/events`);
    expect(stream?.signal?.aborted).toBe(false);
    unmount();
    expect(stream?.signal?.aborted).toBe(true);
  });

  it("shows a finished exec's stdout and stderr, a page at a time", async () => {
    const longStdout = `${'a'.repeat(65_536)}${'z'.repeat(4_000)}THE END`;
    const requests = serve({
      [BASE]: () => jsonResponse(view('ready')),
      [`${BASE}/events`]: quietEvents,
      [`${BASE}/execs`]: () => jsonResponse({ data: [exec('exited', 0)] }),
      [`${BASE}/artifacts`]: () => jsonResponse({ data: [] }),
      [`${BASE}/execs/${EXEC}/output`]: (url) => {
        const offset = Number(url.searchParams.get('offset'));
        const length = Number(url.searchParams.get('length'));
        const body = url.searchParams.get('stream') === 'stderr' ? 'warning: slow disk\n' : longStdout;
        return output(body.slice(offset, offset + length), body.length, offset);
      },
    });
    renderSandbox();

    const stdout = await screen.findByRole('log', { name: 'Standard output' });
    expect(stdout).toHaveTextContent(/^a+$/);
    expect(screen.getByText('Showing 64.0 KB of 67.9 KB')).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => {
      expect(screen.getByRole('log', { name: 'Standard output' })).toHaveTextContent(/THE END$/);
    });
    const pages = requests.filter((request) => request.url.pathname.endsWith('/output'));
    expect(pages.map((request) => request.url.searchParams.get('offset'))).toEqual(['0', '65536']);
    expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();

    await userEvent.click(screen.getByText('stderr'));
    expect(await screen.findByRole('log', { name: 'Standard error' })).toHaveTextContent(
      'warning: slow disk',
    );
  });

  it("follows a running exec's output live until it exits", async () => {
    serve({
      [BASE]: () => jsonResponse(view('ready')),
      [`${BASE}/events`]: quietEvents,
      [`${BASE}/execs`]: () => jsonResponse({ data: [exec('running', null)] }),
      [`${BASE}/artifacts`]: () => jsonResponse({ data: [] }),
      [`${BASE}/execs/${EXEC}/stream`]: () =>
        sse([
          { event: 'output', data: { stream: 'stdout', offset: 0, text: 'epoch 1 loss 0.9\n' } },
          { event: 'output', data: { stream: 'stderr', offset: 0, text: 'cuda not found\n' } },
          { event: 'output', data: { stream: 'stdout', offset: 17, text: 'epoch 2 loss 0.4\n' } },
          { event: 'exit', data: { status: 'exited', exit_code: 0 } },
        ]),
    });
    renderSandbox();

    const stdout = await screen.findByRole('log', { name: 'Standard output' });
    await waitFor(() => {
      expect(stdout).toHaveTextContent('epoch 1 loss 0.9 epoch 2 loss 0.4');
    });
    expect(stdout).not.toHaveTextContent('cuda');
    expect(await screen.findByText('Ended: exited, exit code 0')).toBeInTheDocument();
    expect(
      within(screen.getByRole('region', { name: 'Execs' })).getByText('python3 train.py', {
        selector: 'td code',
      }),
    ).toBeInTheDocument();
  });

  it('cancels a running exec: its row and output show it ended, and a finished exec has no Cancel', async () => {
    let cancelled = false;
    const requests = serve({
      [BASE]: () => jsonResponse(view('ready')),
      [`${BASE}/events`]: quietEvents,
      [`${BASE}/execs`]: () =>
        jsonResponse({
          data: [
            cancelled ? exec('cancelled', null) : exec('running', null),
            exec('exited', 0, { id: EARLIER_EXEC, argv: ['pip', 'install', 'numpy'] }),
          ],
        }),
      [`${BASE}/artifacts`]: () => jsonResponse({ data: [] }),
      // The follow stays open while the exec runs.
      [`${BASE}/execs/${EXEC}/stream`]: () =>
        sse([{ event: 'output', data: { stream: 'stdout', offset: 0, text: 'epoch 1 loss 0.9\n' } }], {
          open: true,
        }),
      [`${BASE}/execs/${EXEC}/cancel`]: () => {
        cancelled = true;
        return jsonResponse(exec('cancelled', null));
      },
      [`${BASE}/execs/${EXEC}/output`]: (url) => {
        const body = url.searchParams.get('stream') === 'stdout' ? 'epoch 1 loss 0.9\n' : '';
        return output(body, body.length, 0);
      },
    });
    renderSandbox();

    const execs = await screen.findByRole('region', { name: 'Execs' });
    const cancel = await within(execs).findByRole('button', { name: 'Cancel python3 train.py' });
    const finishedRow = within(execs).getByRole('row', { name: /pip install numpy/ });
    expect(within(finishedRow).getByText('exited')).toBeInTheDocument();
    expect(within(finishedRow).queryByRole('button', { name: /^Cancel/ })).not.toBeInTheDocument();
    expect(await screen.findByText('Following live')).toBeInTheDocument();
    // The tooltip mounts on hover; its fade is timing-dependent in jsdom, so it may be found mid-transition.
    await userEvent.hover(cancel);
    expect(await screen.findByRole('tooltip', { hidden: true })).toHaveTextContent('Cancel exec');

    await userEvent.click(cancel);

    const runningRow = within(execs).getByRole('row', { name: /python3 train\.py/ });
    await waitFor(() => {
      expect(within(runningRow).getByText('cancelled')).toBeInTheDocument();
    });
    expect(within(execs).queryByRole('button', { name: /^Cancel/ })).not.toBeInTheDocument();
    const posts = requests.filter((request) => request.method === 'POST');
    expect(posts.map((request) => request.url.pathname)).toEqual([`${BASE}/execs/${EXEC}/cancel`]);
    // The list is read again after the cancel, so the row ends as the service recorded it.
    const cancelAt = requests.findIndex((request) => request.method === 'POST');
    await waitFor(() => {
      expect(requests.slice(cancelAt + 1).some((request) => request.url.pathname === `${BASE}/execs`)).toBe(
        true,
      );
    });

    // The live follow ended; the output is now read from what the exec wrote.
    const follow = requests.find((request) => request.url.pathname === `${BASE}/execs/${EXEC}/stream`);
    expect(follow?.signal?.aborted).toBe(true);
    expect(screen.queryByText('Following live')).not.toBeInTheDocument();
    expect(await screen.findByRole('log', { name: 'Standard output' })).toHaveTextContent('epoch 1 loss 0.9');
  });

  it('says why a cancel was refused and shows how the exec really ended', async () => {
    let ended = false;
    const requests = serve({
      [BASE]: () => jsonResponse(view('ready')),
      [`${BASE}/events`]: quietEvents,
      [`${BASE}/execs`]: () => jsonResponse({ data: [ended ? exec('exited', 0) : exec('running', null)] }),
      [`${BASE}/artifacts`]: () => jsonResponse({ data: [] }),
      [`${BASE}/execs/${EXEC}/stream`]: () => sse([], { open: true }),
      // The exec ended between the page's last read and the click.
      [`${BASE}/execs/${EXEC}/cancel`]: () => {
        ended = true;
        return jsonResponse(
          { error: 'The exec is not running: it is exited.', code: 'exec_not_running' },
          409,
        );
      },
      [`${BASE}/execs/${EXEC}/output`]: () => output('', 0, 0),
    });
    renderSandbox();

    const execs = await screen.findByRole('region', { name: 'Execs' });
    await userEvent.click(await within(execs).findByRole('button', { name: 'Cancel python3 train.py' }));

    const alert = await within(execs).findByRole('alert');
    expect(alert).toHaveTextContent('Already ended');
    expect(alert).toHaveTextContent('The exec is not running: it is exited.');
    expect(alert).toHaveAttribute('data-error-code', 'exec_not_running');
    // The refusal itself reads the list again, so the row shows how the exec really ended.
    const cancelAt = requests.findIndex((request) => request.method === 'POST');
    await waitFor(() => {
      expect(requests.slice(cancelAt + 1).some((request) => request.url.pathname === `${BASE}/execs`)).toBe(
        true,
      );
    });
    const row = within(execs).getByRole('row', { name: /python3 train\.py/ });
    expect(await within(row).findByText('exited')).toBeInTheDocument();
    expect(within(execs).queryByRole('button', { name: /^Cancel/ })).not.toBeInTheDocument();
  });
});
