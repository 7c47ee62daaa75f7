import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { jsonResponse, renderWithProviders, stubFetchRoutes } from '../../test-utils.js';
import { InferencePage } from './InferencePage.js';

const ROLES = [
  'default',
  'title',
  'classifier',
  'memory',
  'profile_curation',
  'vision',
  'guardrail',
  'knowledge',
  'embedding',
];

function provider(name: string, keyHint: string | null) {
  return {
    name,
    kind: 'chat_completions',
    base_url: `https://${name}.example/v1`,
    enabled: true,
    key_hint: keyHint,
    created_at: '2026-12-01T10:00:00.000Z',
    updated_at: '2026-12-01T10:00:00.000Z',
  };
}

const ME = () => jsonResponse({ tid: 't1', uid: 'admin-1', email: 'admin@example.com', roles: ['admin'] });
const NO_ROLES = () => jsonResponse({ roles: ROLES.map((role) => ({ role, models: [] })) });

afterEach(() => {
  vi.unstubAllGlobals();
});

// Generous: Mantine's dialogs and typing are slow in jsdom on a busy machine; nothing here measures time.
describe('InferencePage', { timeout: 20_000 }, () => {
  it('adds a provider and shows the models the router probed', async () => {
    const user = userEvent.setup({ delay: null });
    let providers: unknown[] = [];
    const calls = stubFetchRoutes({
      'GET /v1/me': ME,
      'GET /v1/admin/inference/roles': NO_ROLES,
      'GET /v1/admin/inference/providers': () => jsonResponse({ providers }),
      'POST /v1/admin/inference/providers': () => {
        providers = [provider('openai', 'sk-…c0de')];
        return jsonResponse({ ...provider('openai', 'sk-…c0de'), models: ['gpt-4o', 'gpt-4o-mini'] }, 201);
      },
    });
    renderWithProviders(<InferencePage />, { path: '/admin/inference' });

    expect(await screen.findByText(/No provider yet/)).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Add provider' }));
    const dialog = await screen.findByRole('dialog', { name: 'Add provider' });
    await user.type(within(dialog).getByRole('textbox', { name: 'Name' }), 'openai');
    await user.type(within(dialog).getByLabelText(/^Base URL/), 'https://api.openai.com/v1');
    await user.type(within(dialog).getByLabelText(/^API key/), 'sk-test-0123456789c0de');
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));

    await waitFor(() => {
      expect(screen.queryByRole('dialog', { name: 'Add provider' })).not.toBeInTheDocument();
    });
    const result = screen.getByRole('alert', { name: 'Provider openai saved' });
    expect(result).toHaveTextContent('listed 2 models');
    const listed = within(result).getByRole('list', { name: 'Models it listed' });
    expect(
      within(listed)
        .getAllByRole('listitem')
        .map((item) => item.textContent),
    ).toEqual(['gpt-4o', 'gpt-4o-mini']);
    const table = screen.getByRole('table', { name: 'Providers' });
    expect(await within(table).findByRole('rowheader', { name: 'openai' })).toBeInTheDocument();
    expect(calls.find((call) => call.method === 'POST')?.body).toEqual({
      name: 'openai',
      kind: 'chat_completions',
      base_url: 'https://api.openai.com/v1',
      api_key: 'sk-test-0123456789c0de',
      enabled: true,
    });
  });

  it('keeps the form and shows the router’s sentence when the provider cannot be reached', async () => {
    const user = userEvent.setup({ delay: null });
    stubFetchRoutes({
      'GET /v1/me': ME,
      'GET /v1/admin/inference/roles': NO_ROLES,
      'GET /v1/admin/inference/providers': () => jsonResponse({ providers: [] }),
      'POST /v1/admin/inference/providers': () =>
        jsonResponse(
          {
            error:
              'The provider could not be reached: https://llm.internal/v1/models could not be reached (ECONNREFUSED).',
            code: 'provider_unreachable',
          },
          400,
        ),
    });
    renderWithProviders(<InferencePage />, { path: '/admin/inference' });

    await user.click(await screen.findByRole('button', { name: 'Add provider' }));
    const dialog = await screen.findByRole('dialog', { name: 'Add provider' });
    await user.type(within(dialog).getByRole('textbox', { name: 'Name' }), 'local');
    await user.type(within(dialog).getByLabelText(/^Base URL/), 'https://llm.internal/v1');
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));

    const alert = await within(dialog).findByRole('alert');
    expect(alert).toHaveTextContent('Provider unreachable');
    expect(alert).toHaveTextContent('https://llm.internal/v1/models could not be reached (ECONNREFUSED)');
    expect(within(dialog).getByRole('textbox', { name: 'Name' })).toHaveValue('local');
    expect(within(dialog).getByLabelText(/^Base URL/)).toHaveValue('https://llm.internal/v1');
    expect(within(dialog).getByRole('button', { name: 'Save' })).toBeEnabled();
  });

  it('shows an API key only as its hint, in the table, the edit form and after saving', async () => {
    const user = userEvent.setup({ delay: null });
    const secret = 'sk-live-SECRET-9f3e7a1b2';
    let providers = [provider('azure', 'sk-…4d2e')];
    stubFetchRoutes({
      'GET /v1/me': ME,
      'GET /v1/admin/inference/roles': NO_ROLES,
      'GET /v1/admin/inference/providers': () => jsonResponse({ providers }),
      'POST /v1/admin/inference/providers': () => {
        providers = [...providers, provider('openai', 'sk-…a1b2')];
        return jsonResponse({ ...provider('openai', 'sk-…a1b2'), models: ['gpt-4o'] }, 201);
      },
    });
    renderWithProviders(<InferencePage />, { path: '/admin/inference' });

    const table = await screen.findByRole('table', { name: 'Providers' });
    expect(await within(table).findByText('sk-…4d2e')).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Edit provider azure' }));
    const edit = await screen.findByRole('dialog', { name: 'Edit provider azure' });
    expect(within(edit).getByLabelText(/^API key/)).toHaveValue('');
    expect(within(edit).getByText(/The stored key is sk-…4d2e/)).toBeInTheDocument();
    await user.click(within(edit).getByRole('button', { name: 'Cancel' }));

    await user.click(screen.getByRole('button', { name: 'Add provider' }));
    const add = await screen.findByRole('dialog', { name: 'Add provider' });
    await user.type(within(add).getByRole('textbox', { name: 'Name' }), 'openai');
    await user.type(within(add).getByLabelText(/^Base URL/), 'https://api.openai.com/v1');
    await user.type(within(add).getByLabelText(/^API key/), secret);
    await user.click(within(add).getByRole('button', { name: 'Save' }));

    expect(await screen.findByRole('alert', { name: 'Provider openai saved' })).toHaveTextContent(
      'with the key sk-…a1b2',
    );
    expect(await within(table).findByText('sk-…a1b2')).toBeInTheDocument();
    expect(screen.queryByDisplayValue(secret)).not.toBeInTheDocument();
    expect(document.body.textContent).not.toContain(secret);
  });

  it('saves a role with its models in the order chosen after a Move up', async () => {
    const user = userEvent.setup({ delay: null });
    let roles = ROLES.map((role) => ({
      role,
      models: role === 'default' ? ['openai/gpt-4o', 'local/llama3'] : [],
    }));
    const calls = stubFetchRoutes({
      'GET /v1/me': ME,
      'GET /v1/admin/inference/providers': () =>
        jsonResponse({ providers: [provider('openai', 'sk-…a1b2'), provider('local', null)] }),
      'GET /v1/admin/inference/prices': () => jsonResponse({ prices: [] }),
      'GET /v1/admin/inference/roles': () => jsonResponse({ roles }),
      'PUT /v1/admin/inference/roles/default': (body) => {
        const models = (body as { models: string[] }).models;
        roles = roles.map((route) => (route.role === 'default' ? { role: 'default', models } : route));
        return jsonResponse({ role: 'default', models });
      },
    });
    renderWithProviders(<InferencePage />, { path: '/admin/inference?tab=roles' });

    const row = await screen.findByRole('row', { name: /^default/ });
    expect(within(row).getByText('openai/gpt-4o')).toBeInTheDocument();
    await user.click(within(row).getByRole('button', { name: 'Edit role default' }));
    const dialog = await screen.findByRole('dialog', { name: 'Edit role default' });
    await user.click(within(dialog).getByRole('button', { name: 'Move up local/llama3' }));
    expect(within(dialog).getByRole('status')).toHaveTextContent('Moved local/llama3 to position 1');
    await user.click(within(dialog).getByRole('button', { name: 'Save' }));

    await waitFor(() => {
      expect(calls.filter((call) => call.method === 'PUT')).toMatchObject([
        {
          method: 'PUT',
          path: '/v1/admin/inference/roles/default',
          body: { models: ['local/llama3', 'openai/gpt-4o'] },
        },
      ]);
    });
    await waitFor(() => {
      expect(screen.queryByRole('dialog', { name: 'Edit role default' })).not.toBeInTheDocument();
    });
    const badges = within(screen.getByRole('row', { name: /^default/ })).getAllByText(/\//);
    expect(badges.map((badge) => badge.textContent)).toEqual(['local/llama3', 'openai/gpt-4o']);
  });

  it('reports usage by user, model and day with its cost', async () => {
    const user = userEvent.setup({ delay: null });
    const totals = {
      requests: 12,
      errors: 1,
      prompt_tokens: 3000,
      completion_tokens: 700,
      cached_tokens: 0,
      cost_usd: 4.5,
      unpriced_requests: 0,
    };
    const keys: Record<string, string[]> = {
      user: ['u-ada', 'u-bob'],
      model: ['openai/gpt-4o'],
      day: ['2026-12-03'],
    };
    const calls = stubFetchRoutes({
      'GET /v1/me': ME,
      'GET /v1/admin/inference/roles': NO_ROLES,
      'GET /v1/admin/inference/providers': () => jsonResponse({ providers: [provider('openai', null)] }),
      'GET /v1/admin/inference/budgets': () => jsonResponse({ budgets: [] }),
      'GET /v1/admin/inference/prices': () =>
        jsonResponse({
          prices: [{ model: 'openai/gpt-4o', input_per_mtok: 1000, output_per_mtok: 2142.86 }],
        }),
      'GET /v1/admin/inference/usage': (_body, query) => {
        const groupBy = query.get('group_by') ?? 'model';
        const rows = (keys[groupBy] ?? []).map((key, index) => ({
          ...totals,
          key,
          requests: index === 0 ? 8 : 4,
          cost_usd: index === 0 ? 3 : 1.5,
          latency_ms_avg: 400,
          ttft_ms_avg: 90,
        }));
        return jsonResponse({
          from: query.get('from'),
          to: query.get('to'),
          group_by: groupBy,
          rows,
          total: totals,
        });
      },
    });
    renderWithProviders(<InferencePage />, { path: '/admin/inference?tab=usage' });

    const usage = await screen.findByRole('table', { name: 'Usage' });
    await user.click(screen.getByRole('radio', { name: 'User' }));
    const ada = await within(usage).findByRole('row', { name: /u-ada/ });
    expect(ada).toHaveTextContent('$3.00');
    expect(within(usage).getByRole('row', { name: /u-bob/ })).toHaveTextContent('$1.50');
    expect(within(usage).getByRole('row', { name: /Total/ })).toHaveTextContent('$4.50');

    await user.click(screen.getByRole('radio', { name: 'Model' }));
    expect(await within(usage).findByRole('row', { name: /openai\/gpt-4o/ })).toHaveTextContent('$3.00');
    await user.click(screen.getByRole('radio', { name: 'Day' }));
    expect(await within(usage).findByRole('row', { name: /2026-12-03/ })).toHaveTextContent('$3.00');

    const asked = calls.filter((call) => call.path === '/v1/admin/inference/usage');
    expect(asked.map((call) => call.query.get('group_by'))).toEqual(
      expect.arrayContaining(['user', 'model', 'day']),
    );
    // The range is this month, whole UTC days.
    expect(asked.at(-1)?.query.get('from')).toMatch(/^\d{4}-\d{2}-01T00:00:00\.000Z$/);
  });

  it('disables a provider and deletes it once confirmed', async () => {
    const user = userEvent.setup({ delay: null });
    let providers = [provider('local', null)];
    const calls = stubFetchRoutes({
      'GET /v1/me': ME,
      'GET /v1/admin/inference/roles': NO_ROLES,
      'GET /v1/admin/inference/providers': () => jsonResponse({ providers }),
      'PATCH /v1/admin/inference/providers/local': (body) => {
        providers = [{ ...provider('local', null), ...(body as { enabled: boolean }) }];
        return jsonResponse(providers[0]);
      },
      'DELETE /v1/admin/inference/providers/local': () => {
        providers = [];
        return new Response(null, { status: 204 });
      },
    });
    renderWithProviders(<InferencePage />, { path: '/admin/inference' });

    const table = await screen.findByRole('table', { name: 'Providers' });
    const row = await within(table).findByRole('row', { name: /local/ });
    await user.click(within(row).getByRole('switch'));
    await waitFor(() => {
      expect(calls).toContainEqual(
        expect.objectContaining({
          method: 'PATCH',
          path: '/v1/admin/inference/providers/local',
          body: { enabled: false },
        }),
      );
    });
    await waitFor(() => {
      expect(within(row).getByRole('switch')).not.toBeChecked();
    });

    await user.click(within(row).getByRole('button', { name: /^Delete/ }));
    const confirm = await screen.findByRole('dialog');
    await user.click(within(confirm).getByRole('button', { name: 'Delete' }));
    expect(await screen.findByText(/No provider yet/)).toBeInTheDocument();
    expect(calls.some((call) => call.method === 'DELETE')).toBe(true);
  });
});
