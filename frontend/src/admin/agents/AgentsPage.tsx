import { Stack, Tabs, Text, Title } from '@mantine/core';
import { IconBook, IconRobot } from '@tabler/icons-react';

import { useTabParam } from '../use-tab-param.js';
import { AgentsPanel } from './AgentsPanel.js';
import { SkillsPanel } from './SkillsPanel.js';

const TABS = ['agents', 'skills'] as const;

/** `/admin/agents`: agents (prompt, role, tools, approvals, MCP servers) and the skills they load. */
export function AgentsPage() {
  const [tab, setTab] = useTabParam(TABS, 'agents');
  return (
    <Stack gap="md" p={{ base: 'sm', sm: 'lg' }} maw={1280}>
      <Stack gap={4}>
        <Title order={1} size="h2">
          Agents and skills
        </Title>
        <Text size="sm" c="dimmed">
          What people can chat with, and the instructions those agents can draw on.
        </Text>
      </Stack>
      <Tabs value={tab} onChange={setTab} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="agents" leftSection={<IconRobot size={16} />}>
            Agents
          </Tabs.Tab>
          <Tabs.Tab value="skills" leftSection={<IconBook size={16} />}>
            Skills
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="agents" pt="md">
          <AgentsPanel />
        </Tabs.Panel>
        <Tabs.Panel value="skills" pt="md">
          <SkillsPanel />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
