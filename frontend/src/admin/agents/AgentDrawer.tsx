import {
  Code,
  JsonInput,
  MultiSelect,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useState, type SubmitEvent } from 'react';

import { FormActions } from '../FormActions.js';
import { useRoles } from '../inference/inference-api.js';
import {
  BUILTIN_TOOLS,
  DEFAULT_AGENT_ID,
  MASKED,
  useSkills,
  type Agent,
  type AgentFields,
} from './agents-api.js';
import { CatalogDrawer, useSaveCatalogItem, VisibilityField } from './CatalogForm.js';

const EMPTY: AgentFields = {
  name: '',
  description: '',
  system_prompt: '',
  model_role: 'default',
  tools: [],
  skills: [],
  mcp_servers: [],
  approval: { tools: [], all: false },
  visibility: 'private',
};

function fieldsOf(agent: Agent | undefined): AgentFields {
  if (agent === undefined) return EMPTY;
  return {
    name: agent.name,
    description: agent.description,
    system_prompt: agent.system_prompt,
    model_role: agent.model_role,
    tools: [...agent.tools],
    skills: [...agent.skills],
    mcp_servers: [...agent.mcp_servers],
    approval: { tools: [...agent.approval.tools], all: agent.approval.all },
    visibility: agent.visibility,
  };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** The model-facing names of MCP tools the JSON allow-lists (`mcp__<server>__<tool>`), for approval picks. */
function mcpToolNames(servers: unknown): string[] {
  if (!Array.isArray(servers)) return [];
  return servers.flatMap((server: unknown) => {
    const { name, tools } = (server ?? {}) as { name?: unknown; tools?: unknown };
    if (typeof name !== 'string' || !Array.isArray(tools)) return [];
    return tools
      .filter((tool): tool is string => typeof tool === 'string')
      .map((tool) => `mcp__${name}__${tool}`);
  });
}

function parseServers(text: string): { servers: unknown[] } | { error: string } {
  if (text.trim() === '') return { servers: [] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: 'Not valid JSON' };
  }
  return Array.isArray(value) ? { servers: value } : { error: 'Must be a JSON list: [ { "name": … }, … ]' };
}

/** The fields that differ from the stored agent: a PATCH changes only what it sends. */
function changes(before: AgentFields, after: AgentFields): Partial<AgentFields> {
  const changed: Partial<Record<keyof AgentFields, unknown>> = {};
  for (const key of Object.keys(after) as (keyof AgentFields)[]) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) changed[key] = after[key];
  }
  return changed as Partial<AgentFields>;
}

function AgentForm({ agent, onDone }: { agent: Agent | undefined; onDone: () => void }) {
  const roles = useRoles();
  const skills = useSkills();
  const readOnly = agent?.id === DEFAULT_AGENT_ID;
  const initial = fieldsOf(agent);
  const [fields, setFields] = useState<AgentFields>(initial);
  const [mcpText, setMcpText] = useState(() =>
    initial.mcp_servers.length === 0 ? '' : JSON.stringify(initial.mcp_servers, null, 2),
  );
  const [checked, setChecked] = useState(false);

  const save = useSaveCatalogItem<Partial<AgentFields>, Agent>({
    collection: '/v1/agents',
    item: agent,
    message: 'New conversations with it use these settings.',
    onDone,
  });

  const set = <K extends keyof AgentFields>(key: K, value: AgentFields[K]) => {
    setFields((current) => ({ ...current, [key]: value }));
  };

  const parsedServers = parseServers(mcpText);
  const nameError = checked && fields.name.trim() === '' ? 'Give the agent a name' : undefined;
  const mcpError = checked && 'error' in parsedServers ? parsedServers.error : undefined;

  const roleOptions = unique([
    ...(roles.data ?? []).map((route) => route.role),
    'default',
    fields.model_role,
  ]);
  const toolOptions = unique([...BUILTIN_TOOLS, ...initial.tools, ...fields.tools]);
  const skillOptions = [
    ...(skills.data ?? []).map((skill) => ({ value: skill.id, label: skill.name })),
    ...fields.skills
      .filter((id) => !(skills.data ?? []).some((skill) => skill.id === id))
      .map((id) => ({ value: id, label: id })),
  ];
  const approvalOptions = unique([
    ...fields.tools,
    ...('servers' in parsedServers ? mcpToolNames(parsedServers.servers) : []),
    ...fields.approval.tools,
  ]);

  function submit(event: SubmitEvent) {
    event.preventDefault();
    setChecked(true);
    if (fields.name.trim() === '' || 'error' in parsedServers) return;
    const next: AgentFields = { ...fields, name: fields.name.trim(), mcp_servers: parsedServers.servers };
    if (agent === undefined) {
      save.mutate(next);
      return;
    }
    const body = changes(initial, next);
    if (Object.keys(body).length === 0) {
      onDone();
      return;
    }
    save.mutate(body);
  }

  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="lg">
        {readOnly && (
          <Text size="sm" c="dimmed">
            The built-in agent is the same in every tenant and cannot be changed. Create an agent to use other
            settings.
          </Text>
        )}
        <Stack gap="sm">
          <TextInput
            label="Name"
            value={fields.name}
            onChange={(event) => {
              set('name', event.currentTarget.value);
            }}
            error={nameError}
            required
            withAsterisk={false}
            maxLength={100}
            readOnly={readOnly}
            data-autofocus
          />
          <TextInput
            label="Description"
            description="One line that tells people what it is for."
            value={fields.description}
            onChange={(event) => {
              set('description', event.currentTarget.value);
            }}
            readOnly={readOnly}
          />
          <Textarea
            label="System prompt"
            description="The instructions the model gets before every conversation with this agent."
            value={fields.system_prompt}
            onChange={(event) => {
              set('system_prompt', event.currentTarget.value);
            }}
            autosize
            minRows={4}
            maxRows={16}
            readOnly={readOnly}
          />
        </Stack>

        <Stack gap="sm">
          <Title order={3} size="h5">
            Model and tools
          </Title>
          <Select
            label="Model role"
            description="The router role that answers for it (set on the Inference page)."
            data={roleOptions}
            value={fields.model_role}
            onChange={(value) => {
              if (value !== null) set('model_role', value);
            }}
            allowDeselect={false}
            disabled={readOnly}
          />
          <MultiSelect
            label="Tools"
            description="Built-in tools it may call. An MCP server's tools come with the server."
            data={toolOptions}
            value={fields.tools}
            onChange={(value) => {
              set('tools', value);
            }}
            searchable
            disabled={readOnly}
          />
          <MultiSelect
            label="Skills"
            description="Loaded into the prompt when a message is relevant to them."
            data={skillOptions}
            value={fields.skills}
            onChange={(value) => {
              set('skills', value);
            }}
            searchable
            nothingFoundMessage={skills.isPending ? 'Loading skills…' : 'No skills'}
            disabled={readOnly}
          />
        </Stack>

        <Stack gap="sm">
          <Title order={3} size="h5">
            Approval
          </Title>
          <Switch
            label="All tools need approval"
            description="Every tool call waits until the user approves it."
            checked={fields.approval.all}
            onChange={(event) => {
              set('approval', { ...fields.approval, all: event.currentTarget.checked });
            }}
            disabled={readOnly}
          />
          <TagsInput
            label="Tools that need approval"
            description="Model-facing names: a built-in tool, or mcp__<server>__<tool>."
            data={approvalOptions}
            value={fields.approval.tools}
            onChange={(value) => {
              set('approval', { ...fields.approval, tools: value });
            }}
            disabled={readOnly || fields.approval.all}
            clearable
          />
        </Stack>

        <VisibilityField
          value={fields.visibility}
          onChange={(visibility) => {
            set('visibility', visibility);
          }}
          disabled={readOnly}
        />

        <JsonInput
          label="MCP servers"
          description={
            <>
              A JSON list of <Code>{'{"name", "transport": "stdio", "command", "args", "env"}'}</Code> or{' '}
              <Code>{'{"name", "transport": "http", "url", "headers"}'}</Code>, each with optional{' '}
              <Code>tools</Code> and <Code>requires_approval</Code>. Stored header and environment values show
              as <Code>{MASKED}</Code>: leave <Code>{MASKED}</Code> to keep the stored secret, or type a new
              value to replace it. Only admins may set these.
            </>
          }
          placeholder='[{"name": "github", "transport": "http", "url": "https://…", "headers": {"Authorization": "Bearer …"}}]'
          value={mcpText}
          onChange={setMcpText}
          validationError="Not valid JSON"
          error={mcpError}
          formatOnBlur
          autosize
          minRows={4}
          maxRows={16}
          readOnly={readOnly}
          styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
        />

        <FormActions error={save.error} pending={save.isPending} onCancel={onDone} readOnly={readOnly} />
      </Stack>
    </form>
  );
}

/** Creates or edits an agent in a side drawer; a fresh form each time it opens. */
export function AgentDrawer({
  opened,
  agent,
  onClose,
}: {
  opened: boolean;
  agent: Agent | undefined;
  onClose: () => void;
}) {
  const title =
    agent === undefined
      ? 'New agent'
      : agent.id === DEFAULT_AGENT_ID
        ? agent.name
        : `Edit agent ${agent.name}`;
  return (
    <CatalogDrawer opened={opened} onClose={onClose} title={title}>
      {opened && <AgentForm key={agent?.id ?? 'new'} agent={agent} onDone={onClose} />}
    </CatalogDrawer>
  );
}
