import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback } from 'react';

import { apiFetch, apiJson } from '../../api/client.js';

export type Visibility = 'private' | 'tenant' | 'managed';

export const VISIBILITIES: readonly { value: Visibility; label: string; explanation: string }[] = [
  { value: 'private', label: 'Private', explanation: 'Only its owner sees and uses it.' },
  {
    value: 'tenant',
    label: 'Tenant',
    explanation: 'Everyone in the tenant uses it; its owner or an admin edits it.',
  },
  { value: 'managed', label: 'Managed', explanation: 'Everyone uses it; only admins edit it.' },
];

/** The runtime's built-in tools; an agent gets one only when its `tools` names it. */
export const BUILTIN_TOOLS = ['current_time', 'http_fetch', 'sandbox_exec', 'sandbox_files'] as const;

/** The built-in agent every tenant has: read-only. */
export const DEFAULT_AGENT_ID = 'default';

/** What the API shows instead of an MCP header or environment value; sent back, it keeps the stored one. */
export const MASKED = '***';

export interface Agent {
  readonly id: string;
  readonly owner_id: string;
  readonly name: string;
  readonly description: string;
  readonly system_prompt: string;
  readonly model_role: string;
  readonly tools: readonly string[];
  readonly skills: readonly string[];
  readonly mcp_servers: readonly Record<string, unknown>[];
  readonly approval: { readonly tools: readonly string[]; readonly all: boolean };
  readonly visibility: Visibility;
  readonly created_at: string;
  readonly updated_at: string;
}

/** The fields a create sends and an edit compares against. */
export interface AgentFields {
  name: string;
  description: string;
  system_prompt: string;
  model_role: string;
  tools: string[];
  skills: string[];
  mcp_servers: unknown[];
  approval: { tools: string[]; all: boolean };
  visibility: Visibility;
}

export interface Skill {
  readonly id: string;
  readonly owner_id: string;
  readonly name: string;
  readonly description: string;
  readonly when_to_use: string;
  readonly tools: readonly string[];
  readonly body: string;
  readonly visibility: Visibility;
  readonly created_at: string;
  readonly updated_at: string;
}

const AGENTS_KEY = ['agents'] as const;
const SKILLS_KEY = ['skills'] as const;

export function useAgents() {
  return useQuery({
    queryKey: AGENTS_KEY,
    queryFn: ({ signal }) => apiJson<{ data: Agent[] }>('/v1/agents', { signal }),
    select: (answer) => answer.data,
  });
}

export function useSkills() {
  return useQuery({
    queryKey: SKILLS_KEY,
    queryFn: ({ signal }) => apiJson<{ data: Skill[] }>('/v1/skills', { signal }),
    select: (answer) => answer.data,
  });
}

/** A skill as its author writes it: Markdown with YAML front matter. */
export function useSkillMarkdown(id: string | undefined) {
  return useQuery({
    queryKey: [...SKILLS_KEY, id, 'markdown'],
    queryFn: async ({ signal }) => {
      const response = await apiFetch(`/v1/skills/${encodeURIComponent(id ?? '')}?format=markdown`, {
        headers: { accept: 'text/markdown' },
        signal,
      });
      return response.text();
    },
    enabled: id !== undefined,
    // The editor starts from this text once: a background refetch must not replace what is being typed.
    staleTime: Infinity,
  });
}

/** After a change: an agent's skills and a skill's agents both show in the lists. */
export function useInvalidateCatalog(): () => Promise<void> {
  const client = useQueryClient();
  return useCallback(async () => {
    await Promise.all([
      client.invalidateQueries({ queryKey: AGENTS_KEY }),
      client.invalidateQueries({ queryKey: SKILLS_KEY }),
    ]);
  }, [client]);
}
