import { Badge, Box, Select, Skeleton, Text } from '@mantine/core';
import { IconRobot } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';

import { ErrorAlert } from '../api/ErrorAlert.js';
import { chatKeys, DEFAULT_AGENT_ID, listAgents } from './chat-api.js';

export function useAgents() {
  return useQuery({
    queryKey: chatKeys.agents,
    queryFn: ({ signal }) => listAgents(signal),
    staleTime: 60_000,
  });
}

/** The agent a new chat talks to; the default agent unless another is picked. */
export function AgentPicker({ value, onChange }: { value: string; onChange: (agentId: string) => void }) {
  const agents = useAgents();
  if (agents.isPending) {
    return (
      <Box w={280}>
        <Skeleton h={14} w={50} mb={6} />
        <Skeleton h={36} />
      </Box>
    );
  }
  if (agents.isError) {
    return (
      <Box maw={420}>
        <ErrorAlert
          error={agents.error}
          onRetry={() => {
            void agents.refetch();
          }}
        />
      </Box>
    );
  }
  const selected = agents.data.find((agent) => agent.id === value);
  return (
    <Box w={280} maw="100%">
      <Select
        label="Agent"
        leftSection={<IconRobot size={16} />}
        data={agents.data.map((agent) => ({ value: agent.id, label: agent.name }))}
        value={selected === undefined ? DEFAULT_AGENT_ID : value}
        allowDeselect={false}
        searchable={agents.data.length > 8}
        onChange={(next) => {
          if (next !== null) onChange(next);
        }}
      />
      {/* One line kept for the description, so picking another agent does not move the composer. */}
      <Text size="xs" c="dimmed" mt={4} lineClamp={1} mih="1.4em" title={selected?.description}>
        {selected?.description ?? ''}
      </Text>
    </Box>
  );
}

/** A conversation's agent, which cannot change once it has started. */
export function AgentBadge({ agentId }: { agentId: string }) {
  const agents = useAgents();
  const name = agents.data?.find((agent) => agent.id === agentId)?.name ?? agentId;
  return (
    <Badge
      variant="light"
      color="gray"
      leftSection={<IconRobot size={12} />}
      style={{ textTransform: 'none', flex: 'none' }}
      aria-label={`Agent: ${name}`}
    >
      {name}
    </Badge>
  );
}
