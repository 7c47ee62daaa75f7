import { ActionIcon, Badge, Button, Group, Stack, Table, Text, Tooltip, VisuallyHidden } from '@mantine/core';
import { IconEye, IconPencil, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';

import { apiJson } from '../../api/client.js';
import { ErrorAlert } from '../../api/ErrorAlert.js';
import { useMe } from '../../auth/me.js';
import { ConfirmModal } from '../inference/ConfirmModal.js';
import { SkeletonRows } from '../inference/SkeletonRows.js';
import { AgentDrawer } from './AgentDrawer.js';
import { DEFAULT_AGENT_ID, useAgents, useInvalidateCatalog, type Agent } from './agents-api.js';
import { OwnerName, VisibilityBadge } from './CatalogCells.js';

const COLUMNS = 6;

function ToolList({ agent }: { agent: Agent }) {
  const servers = agent.mcp_servers.length;
  if (agent.tools.length === 0 && servers === 0) {
    return (
      <Text size="sm" c="dimmed">
        None
      </Text>
    );
  }
  return (
    <Group gap={4}>
      {agent.tools.map((tool) => (
        <Badge key={tool} variant="light" color="gray" tt="none" radius="sm">
          {tool}
        </Badge>
      ))}
      {servers > 0 && (
        <Badge variant="light" color="violet" tt="none" radius="sm">
          {servers} MCP {servers === 1 ? 'server' : 'servers'}
        </Badge>
      )}
    </Group>
  );
}

/** The agents tab: everyone's shared agents, the admin's own, and the read-only built-in one. */
export function AgentsPanel() {
  const agents = useAgents();
  const me = useMe();
  const invalidate = useInvalidateCatalog();
  const [drawer, setDrawer] = useState<{ agent: Agent | undefined } | undefined>();
  const [deleting, setDeleting] = useState<Agent>();
  const remove = useMutation({
    mutationFn: (agent: Agent) =>
      apiJson<undefined>(`/v1/agents/${encodeURIComponent(agent.id)}`, { method: 'DELETE' }),
    onSuccess: () => {
      setDeleting(undefined);
    },
    onSettled: () => invalidate(),
  });

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end" wrap="wrap" gap="sm">
        <Text size="sm" c="dimmed" maw={640}>
          An agent is a system prompt, a model role, the tools it may call and the skills it may load. People
          pick one when they start a conversation.
        </Text>
        <Button
          leftSection={<IconPlus size={16} />}
          onClick={() => {
            setDrawer({ agent: undefined });
          }}
        >
          New agent
        </Button>
      </Group>
      {agents.isError ? (
        <ErrorAlert error={agents.error} onRetry={() => void agents.refetch()} />
      ) : (
        <Table.ScrollContainer minWidth={760}>
          <Table verticalSpacing="sm" highlightOnHover aria-label="Agents">
            <Table.Thead>
              <Table.Tr>
                <Table.Th scope="col">Name</Table.Th>
                <Table.Th scope="col">Visibility</Table.Th>
                <Table.Th scope="col">Model role</Table.Th>
                <Table.Th scope="col">Tools</Table.Th>
                <Table.Th scope="col">Owner</Table.Th>
                <Table.Th scope="col">
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {agents.isPending ? (
                <SkeletonRows columns={COLUMNS} />
              ) : agents.data.length === 0 ? (
                <Table.Tr>
                  <Table.Td colSpan={COLUMNS}>
                    <Text size="sm" c="dimmed" ta="center" py="lg">
                      No agents yet.
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ) : (
                agents.data.map((agent) => {
                  const builtIn = agent.id === DEFAULT_AGENT_ID;
                  return (
                    <Table.Tr key={agent.id}>
                      <Table.Th scope="row" fw={400} maw={320}>
                        <Group gap={6} wrap="nowrap">
                          <Text size="sm" fw={600}>
                            {agent.name}
                          </Text>
                          {builtIn && (
                            <Badge size="xs" variant="outline" color="gray" tt="none">
                              Built-in
                            </Badge>
                          )}
                        </Group>
                        {agent.description !== '' && (
                          <Text size="xs" c="dimmed" lineClamp={2}>
                            {agent.description}
                          </Text>
                        )}
                      </Table.Th>
                      <Table.Td>
                        <VisibilityBadge visibility={agent.visibility} />
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" ff="monospace">
                          {agent.model_role}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <ToolList agent={agent} />
                      </Table.Td>
                      <Table.Td>
                        <OwnerName ownerId={agent.owner_id} builtIn={builtIn} me={me.data?.uid} />
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap" justify="flex-end">
                          <Tooltip label={builtIn ? 'View (read-only)' : 'Edit'}>
                            <ActionIcon
                              variant="subtle"
                              aria-label={builtIn ? `View agent ${agent.name}` : `Edit agent ${agent.name}`}
                              onClick={() => {
                                setDrawer({ agent });
                              }}
                            >
                              {builtIn ? <IconEye size={18} /> : <IconPencil size={18} />}
                            </ActionIcon>
                          </Tooltip>
                          {!builtIn && (
                            <Tooltip label="Delete">
                              <ActionIcon
                                variant="subtle"
                                color="red"
                                aria-label={`Delete agent ${agent.name}`}
                                onClick={() => {
                                  setDeleting(agent);
                                }}
                              >
                                <IconTrash size={18} />
                              </ActionIcon>
                            </Tooltip>
                          )}
                        </Group>
                      </Table.Td>
                    </Table.Tr>
                  );
                })
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <AgentDrawer
        opened={drawer !== undefined}
        agent={drawer?.agent}
        onClose={() => {
          setDrawer(undefined);
        }}
      />
      <ConfirmModal
        opened={deleting !== undefined}
        title={`Delete agent ${deleting?.name ?? ''}?`}
        confirmLabel="Delete"
        pending={remove.isPending}
        error={remove.error}
        onConfirm={() => {
          if (deleting !== undefined) remove.mutate(deleting);
        }}
        onClose={() => {
          remove.reset();
          setDeleting(undefined);
        }}
      >
        <Text size="sm">
          Conversations with it keep their messages but cannot be continued with it. This cannot be undone.
        </Text>
      </ConfirmModal>
    </Stack>
  );
}
