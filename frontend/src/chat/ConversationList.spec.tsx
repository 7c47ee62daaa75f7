import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { setTokenSource } from '../api/client.js';
import {
  captureDownloads,
  jsonResponse,
  renderWithProviders,
  stubFetchRoutes,
  type CapturedDownloads,
  type StubbedRoute,
} from '../test-utils.js';
import { dispositionFilename, type ConversationSummary } from './chat-api.js';
import { ConversationList } from './ConversationList.js';

const ID = '6f1c1b7e-0000-4000-8000-000000000001';
const EXPORT = `GET /v1/conversations/${ID}/export`;
const TOKEN = 'access-token-of-ada';

const SUMMARY: ConversationSummary = {
  id: ID,
  title: 'Trip to Lisbon',
  agent_id: 'default',
  forked_from: null,
  created_at: '2026-12-04T10:00:00.000Z',
  updated_at: '2026-12-04T10:00:00.000Z',
};

const MARKDOWN =
  '# Trip to Lisbon\n\n**You:** Where should I eat?\n\n**Assistant:** Try the Time Out Market.\n';

function stubGateway(exportRoute: StubbedRoute) {
  return stubFetchRoutes({
    'GET /v1/me': () => jsonResponse({ tid: 't', uid: 'ada', email: 'ada@example.com', roles: [] }),
    'GET /v1/conversations': () => jsonResponse({ data: [SUMMARY], next_cursor: null }),
    [EXPORT]: exportRoute,
  });
}

/** The headers of every request to `path`, as `fetch` was called with them. */
function headersOf(path: string): Headers[] {
  return vi
    .mocked(fetch)
    .mock.calls.filter(
      ([input]) =>
        new URL(
          typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
          'http://aibox.test',
        ).pathname === path,
    )
    .map(([, init]) => new Headers(init?.headers));
}

async function exportAs(format: 'Markdown' | 'JSON'): Promise<void> {
  const user = userEvent.setup();
  await user.click(await screen.findByRole('button', { name: 'Options for Trip to Lisbon' }));
  await user.click(await screen.findByRole('menuitem', { name: `Export as ${format}` }));
}

let downloads: CapturedDownloads;

beforeEach(() => {
  downloads = captureDownloads();
  setTokenSource({ token: () => Promise.resolve(TOKEN), renew: () => Promise.resolve(undefined) });
});

afterEach(() => {
  setTokenSource({ token: () => Promise.resolve(undefined), renew: () => Promise.resolve(undefined) });
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
  downloads.restore();
});

describe('ConversationList export', () => {
  it('saves the Markdown the runtime answers, under the name it gives, fetched with the token', async () => {
    const calls = stubGateway(
      () =>
        new Response(MARKDOWN, {
          headers: {
            'content-type': 'text/markdown; charset=utf-8',
            'content-disposition': 'attachment; filename="Trip to Lisbon.md"',
          },
        }),
    );
    renderWithProviders(<ConversationList />);

    await exportAs('Markdown');

    await waitFor(() => {
      expect(downloads.names).toEqual(['Trip to Lisbon.md']);
    });
    const exports = calls.filter((call) => call.path === `/v1/conversations/${ID}/export`);
    expect(exports.map((call) => [call.method, call.query.get('format')])).toEqual([['GET', 'markdown']]);
    expect(headersOf(`/v1/conversations/${ID}/export`)[0]?.get('authorization')).toBe(`Bearer ${TOKEN}`);
    const saved = downloads.blobs[0];
    expect(saved?.type).toMatch(/^text\/markdown/);
    expect(await saved?.text()).toBe(MARKDOWN);
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
  });

  it('saves the JSON as conversation-<id>.json when the answer names no file', async () => {
    const document = { id: ID, title: 'Trip to Lisbon', messages: [{ role: 'user', content: 'Where?' }] };
    const calls = stubGateway(() => jsonResponse(document));
    renderWithProviders(<ConversationList />);

    await exportAs('JSON');

    await waitFor(() => {
      expect(downloads.names).toEqual([`conversation-${ID}.json`]);
    });
    expect(
      calls.filter((call) => call.path.endsWith('/export')).map((call) => call.query.get('format')),
    ).toEqual(['json']);
    const saved = downloads.blobs[0];
    expect(saved?.type).toBe('application/json');
    expect(JSON.parse((await saved?.text()) ?? '')).toEqual(document);
  });

  it('says why an export failed, saves nothing, and tries again from the dialog', async () => {
    let answers = 0;
    stubGateway(() => {
      answers += 1;
      return answers === 1
        ? jsonResponse({ error: 'agent-runtime is not reachable', code: 'backend_unavailable' }, 503)
        : new Response(MARKDOWN, { headers: { 'content-type': 'text/markdown; charset=utf-8' } });
    });
    const user = userEvent.setup();
    renderWithProviders(<ConversationList />);

    await exportAs('Markdown');

    const dialog = await screen.findByRole('dialog', { name: 'Export failed' });
    const alert = within(dialog).getByRole('alert');
    expect(alert).toHaveTextContent('Service unavailable');
    expect(alert).toHaveTextContent('A part of aibox is not reachable right now.');
    expect(downloads.names).toEqual([]);

    await user.click(within(alert).getByRole('button', { name: 'Try again' }));
    await waitFor(() => {
      expect(downloads.names).toEqual([`conversation-${ID}.md`]);
    });
    expect(answers).toBe(2);
    await waitFor(() => {
      expect(screen.queryByRole('dialog', { name: 'Export failed' })).not.toBeInTheDocument();
    });
  });

  it('shows a conversation that is gone as such', async () => {
    stubGateway(() => jsonResponse({ error: 'no such conversation', code: 'conversation_unknown' }, 404));
    const user = userEvent.setup();
    renderWithProviders(<ConversationList />);

    await exportAs('JSON');

    const dialog = await screen.findByRole('dialog', { name: 'Export failed' });
    expect(within(dialog).getByRole('alert')).toHaveTextContent(
      'This conversation does not exist or was deleted.',
    );
    expect(within(dialog).queryByRole('button', { name: 'Try again' })).not.toBeInTheDocument();
    await user.click(within(dialog).getByRole('button', { name: 'Close' }));
    await waitFor(() => {
      expect(screen.queryByRole('dialog', { name: 'Export failed' })).not.toBeInTheDocument();
    });
    expect(downloads.names).toEqual([]);
  });
});

describe('dispositionFilename', () => {
  it.each([
    ['attachment; filename="Trip to Lisbon.md"', 'Trip to Lisbon.md'],
    ['attachment; filename=notes.json', 'notes.json'],
    ['attachment; filename="say \\"hi\\".md"', 'say "hi".md'],
    ['attachment; filename="Lisbon.md"; filename*=UTF-8\'\'Lisboa%20%C3%A0%20noite.md', 'Lisboa à noite.md'],
    ['attachment; filename*=UTF-8\'\'%E0%A4.md; filename="fallback.md"', 'fallback.md'],
  ])('reads %s', (header, name) => {
    expect(dispositionFilename(header)).toBe(name);
  });

  it.each([null, 'attachment', 'inline; filename=""'])('has no name in %s', (header) => {
    expect(dispositionFilename(header)).toBeUndefined();
  });
});
