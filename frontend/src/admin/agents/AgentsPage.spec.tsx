import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { jsonResponse, renderWithProviders, stubFetchRoutes, type StubbedRoute } from '../../test-utils.js';
import { AgentsPage } from './AgentsPage.js';

const BUILT_IN = {
  id: 'default',
  owner_id: 'system',
  name: 'Assistant',
  description: 'The general assistant every tenant has.',
  system_prompt: 'You are a helpful assistant.',
  model_role: 'default',
  tools: ['current_time'],
  skills: [],
  mcp_servers: [],
  approval: { tools: [], all: false },
  visibility: 'managed',
  created_at: '2026-01-01T00:00:00.000Z',
  updated_at: '2026-01-01T00:00:00.000Z',
};

function catalog(extra: Record<string, StubbedRoute> = {}): Record<string, StubbedRoute> {
  return {
    'GET /v1/me': () =>
      jsonResponse({ tid: 't1', uid: 'admin-1', email: 'admin@example.com', roles: ['admin'] }),
    'GET /v1/agents': () => jsonResponse({ data: [BUILT_IN] }),
    'GET /v1/skills': () => jsonResponse({ data: [] }),
    'GET /v1/admin/inference/roles': () =>
      jsonResponse({
        roles: [
          { role: 'default', models: ['openai/gpt-4o'] },
          { role: 'knowledge', models: [] },
        ],
      }),
    ...extra,
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

// Generous: Mantine's drawers and typing are slow in jsdom on a busy machine; nothing here measures time.
describe('AgentsPage', { timeout: 20_000 }, () => {
  it('creates an agent with the tools, approvals and visibility picked in the form', async () => {
    const user = userEvent.setup({ delay: null });
    const calls = stubFetchRoutes(
      catalog({
        'POST /v1/agents': (body) =>
          jsonResponse({ ...BUILT_IN, ...(body as object), id: 'a1', owner_id: 'admin-1' }, 201),
      }),
    );
    renderWithProviders(<AgentsPage />, { path: '/admin/agents' });

    const table = await screen.findByRole('table', { name: 'Agents' });
    expect(await within(table).findByText('Assistant')).toBeInTheDocument();
    expect(within(table).queryByRole('button', { name: /Delete agent Assistant/ })).not.toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'New agent' }));
    const drawer = await screen.findByRole('dialog', { name: 'New agent' });
    await user.click(within(drawer).getByRole('textbox', { name: 'Name' }));
    await user.paste('Data analyst');
    await user.click(within(drawer).getByLabelText('System prompt'));
    await user.paste('Answer with numbers.');
    // By keyboard, as the combobox's dropdown has no layout in jsdom: type to filter, arrow to the option, Enter.
    await user.type(within(drawer).getByRole('combobox', { name: 'Tools' }), 'sandbox_e{ArrowDown}{Enter}');
    expect(within(drawer).getByText('sandbox_exec', { selector: '.mantine-Pill-label' })).toBeInTheDocument();
    await user.type(within(drawer).getByLabelText('Tools that need approval'), 'sandbox_exec{Enter}');
    await user.click(within(drawer).getByRole('radio', { name: /^Tenant/ }));
    await user.click(within(drawer).getByRole('button', { name: 'Save' }));

    await waitFor(() => {
      expect(calls.filter((call) => call.method === 'POST')).toMatchObject([
        {
          method: 'POST',
          path: '/v1/agents',
          body: {
            name: 'Data analyst',
            description: '',
            system_prompt: 'Answer with numbers.',
            model_role: 'default',
            tools: ['sandbox_exec'],
            skills: [],
            mcp_servers: [],
            approval: { tools: ['sandbox_exec'], all: false },
            visibility: 'tenant',
          },
        },
      ]);
    });
    await waitFor(() => {
      expect(screen.queryByRole('dialog', { name: 'New agent' })).not.toBeInTheDocument();
    });
  });

  it('shows agent_name_taken in the form and keeps what was typed', async () => {
    const user = userEvent.setup({ delay: null });
    stubFetchRoutes(
      catalog({
        'POST /v1/agents': () =>
          jsonResponse({ error: 'An agent with this name exists.', code: 'agent_name_taken' }, 409),
      }),
    );
    renderWithProviders(<AgentsPage />, { path: '/admin/agents' });

    await user.click(await screen.findByRole('button', { name: 'New agent' }));
    const drawer = await screen.findByRole('dialog', { name: 'New agent' });
    await user.click(within(drawer).getByRole('textbox', { name: 'Name' }));
    await user.paste('Assistant');
    await user.click(within(drawer).getByRole('button', { name: 'Save' }));

    const alert = await within(drawer).findByRole('alert');
    expect(alert).toHaveTextContent('Name taken');
    expect(alert).toHaveTextContent('You already have an agent with this name.');
    expect(within(drawer).getByRole('textbox', { name: 'Name' })).toHaveValue('Assistant');
  });

  it('shows what is wrong with a skill’s front matter in the skill form', async () => {
    const user = userEvent.setup({ delay: null });
    const calls = stubFetchRoutes(
      catalog({
        'POST /v1/skills': () =>
          jsonResponse(
            {
              error: 'The skill is not valid: front matter field "description": must not be empty.',
              code: 'skill_invalid',
            },
            400,
          ),
      }),
    );
    renderWithProviders(<AgentsPage />, { path: '/admin/agents?tab=skills' });

    await user.click(await screen.findByRole('button', { name: 'New skill' }));
    const drawer = await screen.findByRole('dialog', { name: 'New skill' });
    const markdown = within(drawer).getByLabelText('Skill (Markdown)');
    expect((markdown as HTMLTextAreaElement).value).toMatch(/^---\nname: /);
    await user.click(within(drawer).getByRole('button', { name: 'Save' }));

    const alert = await within(drawer).findByRole('alert');
    expect(alert).toHaveTextContent('Invalid skill');
    expect(alert).toHaveTextContent('front matter field "description": must not be empty');
    expect(calls.find((call) => call.method === 'POST')?.body).toEqual({
      markdown: (markdown as HTMLTextAreaElement).value,
      visibility: 'private',
    });
  });
});
