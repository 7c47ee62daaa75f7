import { Badge, Group, Stack, Table, Text } from '@mantine/core';
import { useState } from 'react';

import { useMe } from '../../auth/me.js';
import { ConfirmModal } from '../inference/ConfirmModal.js';
import { PanelIntro } from '../PanelIntro.js';
import { ActionsHeader, RowActions } from '../RowActions.js';
import { EmptyRow, QueryRows, QueryTable, SkeletonRows } from '../TableState.js';
import { AgentDrawer } from './AgentDrawer.js';
import { DEFAULT_AGENT_ID, useAgents, type Agent } from './agents-api.js';
import { OwnerName, ToolList, VisibilityBadge } from './CatalogCells.js';
import { useDeleteCatalogItem } from './CatalogForm.js';

const COLUMNS = 6;

/** The agents tab: everyone's shared agents, the admin's own, and the read-only built-in one. */
export function AgentsPanel() {
  const agents = useAgents();
  const me = useMe();
  const [drawer, setDrawer] = useState<{ agent: Agent | undefined } | undefined>();
  const remove = useDeleteCatalogItem<Agent>('/v1/agents');

  return (
    <Stack gap="md">
      <PanelIntro
        addLabel="New agent"
        onAdd={() => {
          setDrawer({ agent: undefined });
        }}
      >
        An agent is a system prompt, a model role, the tools it may call and the skills it may load. People
        pick one when they start a conversation.
      </PanelIntro>
      <QueryTable query={agents} minWidth={760} verticalSpacing="sm" highlightOnHover aria-label="Agents">
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">Name</Table.Th>
            <Table.Th scope="col">Visibility</Table.Th>
            <Table.Th scope="col">Model role</Table.Th>
            <Table.Th scope="col">Tools</Table.Th>
            <Table.Th scope="col">Owner</Table.Th>
            <ActionsHeader />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          <QueryRows
            query={agents}
            loading={<SkeletonRows columns={COLUMNS} />}
            empty={<EmptyRow columns={COLUMNS}>No agents yet.</EmptyRow>}
          >
            {(agent) => {
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
                    <ToolList tools={agent.tools} mcpServers={agent.mcp_servers.length} />
                  </Table.Td>
                  <Table.Td>
                    <OwnerName ownerId={agent.owner_id} builtIn={builtIn} me={me.data?.uid} />
                  </Table.Td>
                  <RowActions
                    item={`agent ${agent.name}`}
                    readOnly={builtIn}
                    onEdit={() => {
                      setDrawer({ agent });
                    }}
                    onDelete={
                      builtIn
                        ? undefined
                        : () => {
                            remove.ask(agent);
                          }
                    }
                  />
                </Table.Tr>
              );
            }}
          </QueryRows>
        </Table.Tbody>
      </QueryTable>
      <AgentDrawer
        opened={drawer !== undefined}
        agent={drawer?.agent}
        onClose={() => {
          setDrawer(undefined);
        }}
      />
      <ConfirmModal
        {...remove.dialog}
        title={`Delete agent ${remove.target?.name ?? ''}?`}
        confirmLabel="Delete"
      >
        <Text size="sm">
          Conversations with it keep their messages but cannot be continued with it. This cannot be undone.
        </Text>
      </ConfirmModal>
    </Stack>
  );
}
