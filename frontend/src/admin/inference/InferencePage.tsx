import { Stack, Tabs, Text, Title } from '@mantine/core';
import { IconChartBar, IconPlugConnected, IconRoute } from '@tabler/icons-react';
import { useSearchParams } from 'react-router';

import { ProvidersPanel } from './ProvidersPanel.js';
import { RolesPanel } from './RolesPanel.js';
import { UsagePanel } from './UsagePanel.js';

const TABS = ['providers', 'roles', 'usage'] as const;
type InferenceTab = (typeof TABS)[number];

/** `/admin/inference`: providers, the roles that route to their models, and what the calls cost. */
export function InferencePage() {
  const [search, setSearch] = useSearchParams();
  const tab: InferenceTab = TABS.find((candidate) => candidate === search.get('tab')) ?? 'providers';
  // The tab lives in the URL (`?tab=roles`), so a link or an error's "set up models" can point at one.
  const show = (next: InferenceTab) => {
    setSearch(
      (current) => {
        const params = new URLSearchParams(current);
        params.set('tab', next);
        return params;
      },
      { replace: true },
    );
  };

  return (
    <Stack gap="md" p={{ base: 'sm', sm: 'lg' }} maw={1280}>
      <Stack gap={4}>
        <Title order={1} size="h2">
          Inference
        </Title>
        <Text size="sm" c="dimmed">
          Model providers, which models answer each role, and what the calls cost.
        </Text>
      </Stack>
      <Tabs
        value={tab}
        onChange={(value) => {
          const next = TABS.find((candidate) => candidate === value);
          if (next !== undefined) show(next);
        }}
        keepMounted={false}
      >
        <Tabs.List>
          <Tabs.Tab value="providers" leftSection={<IconPlugConnected size={16} />}>
            Providers
          </Tabs.Tab>
          <Tabs.Tab value="roles" leftSection={<IconRoute size={16} />}>
            Roles
          </Tabs.Tab>
          <Tabs.Tab value="usage" leftSection={<IconChartBar size={16} />}>
            Usage
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="providers" pt="md">
          <ProvidersPanel
            onShowRoles={() => {
              show('roles');
            }}
          />
        </Tabs.Panel>
        <Tabs.Panel value="roles" pt="md">
          <RolesPanel />
        </Tabs.Panel>
        <Tabs.Panel value="usage" pt="md">
          <UsagePanel />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
