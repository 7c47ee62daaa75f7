import { Stack, Tabs, Text, Title } from '@mantine/core';
import { IconChartBar, IconPlugConnected, IconRoute } from '@tabler/icons-react';

import { useTabParam } from '../use-tab-param.js';
import { ProvidersPanel } from './ProvidersPanel.js';
import { RolesPanel } from './RolesPanel.js';
import { UsagePanel } from './UsagePanel.js';

const TABS = ['providers', 'roles', 'usage'] as const;

/** `/admin/inference`: providers, the roles that route to their models, and what the calls cost. */
export function InferencePage() {
  // The tab lives in the URL (`?tab=roles`), so a link or an error's "set up models" can point at one.
  const [tab, show] = useTabParam(TABS, 'providers');

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
      <Tabs value={tab} onChange={show} keepMounted={false}>
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
