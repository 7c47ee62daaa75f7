import { Anchor, Badge, Group, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { IconRefresh } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';

import { ErrorAlert } from '../../api/ErrorAlert.js';
import { formatTime, shortId } from '../audit/display-format.js';
import { QueryError } from '../QueryError.js';
import { EmptyRow, QueryRows, SkeletonRows } from '../TableState.js';
import { TooltipActionIcon } from '../TooltipActionIcon.js';
import { SandboxActions } from './SandboxActions.js';
import { isTransitional, listSandboxes, sandboxKeys, type Sandbox } from './sandbox-api.js';
import { SandboxStateBadge } from './SandboxStateBadge.js';

/** How often the list is read again while a sandbox is still converging (pending, provisioning, deleting). */
const CONVERGING_REFRESH_MS = 3000;
const COLUMNS = 7;

function Labels({ labels }: { labels: Readonly<Record<string, string>> }) {
  const entries = Object.entries(labels);
  if (entries.length === 0) return null;
  return (
    <Group gap={4} mt={4} wrap="wrap">
      {entries.map(([key, value]) => (
        <Badge key={key} size="xs" variant="outline" color="gray" tt="none">
          {key}={value}
        </Badge>
      ))}
    </Group>
  );
}

function SandboxRow({ sandbox, onOutcome }: { sandbox: Sandbox; onOutcome: (error: unknown) => void }) {
  return (
    <Table.Tr>
      <Table.Td>
        <Anchor
          component={Link}
          to={`/admin/sandboxes/${sandbox.id}`}
          ff="monospace"
          title={sandbox.id}
          style={{ whiteSpace: 'nowrap' }}
        >
          {shortId(sandbox.id)}
        </Anchor>
      </Table.Td>
      <Table.Td>
        <Text size="sm" fw={500}>
          {sandbox.name}
        </Text>
        <Labels labels={sandbox.labels} />
      </Table.Td>
      <Table.Td>
        <Text size="sm" ff="monospace">
          {sandbox.owner_id}
        </Text>
      </Table.Td>
      <Table.Td>{sandbox.runtime}</Table.Td>
      <Table.Td>
        <SandboxStateBadge state={sandbox.state} />
      </Table.Td>
      <Table.Td>{formatTime(sandbox.created_at)}</Table.Td>
      <Table.Td>
        <SandboxActions sandbox={sandbox} onOutcome={onOutcome} />
      </Table.Td>
    </Table.Tr>
  );
}

/** `/admin/sandboxes`: the tenant's sandboxes, their state as it converges, and stop/start/delete. */
export function SandboxesPage() {
  const [actionError, setActionError] = useState<unknown>(undefined);
  const sandboxes = useQuery({
    queryKey: sandboxKeys.list,
    queryFn: ({ signal }) => listSandboxes(signal),
    refetchInterval: (query) =>
      query.state.data?.some((sandbox) => isTransitional(sandbox.state)) === true
        ? CONVERGING_REFRESH_MS
        : false,
  });
  return (
    <Stack gap="lg" p={{ base: 'sm', sm: 'md' }}>
      <Group justify="space-between" align="flex-start" wrap="nowrap">
        <div>
          <Title order={1} size="h2">
            Sandboxes
          </Title>
          <Text c="dimmed">Isolated workspaces where tools and agents run code.</Text>
        </div>
        <TooltipActionIcon
          label="Refresh"
          withArrow
          color="gray"
          size="lg"
          aria-label="Refresh the sandboxes"
          loading={sandboxes.isFetching}
          onClick={() => {
            void sandboxes.refetch();
          }}
        >
          <IconRefresh size={20} />
        </TooltipActionIcon>
      </Group>
      {actionError !== undefined && <ErrorAlert error={actionError} />}
      {sandboxes.isError && sandboxes.data === undefined ? (
        <QueryError query={sandboxes} />
      ) : (
        <Paper withBorder>
          <Table.ScrollContainer minWidth={760}>
            <Table highlightOnHover verticalSpacing="sm" aria-busy={sandboxes.isPending}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th scope="col">ID</Table.Th>
                  <Table.Th scope="col">Name</Table.Th>
                  <Table.Th scope="col">Owner</Table.Th>
                  <Table.Th scope="col">Runtime</Table.Th>
                  <Table.Th scope="col">State</Table.Th>
                  <Table.Th scope="col">Created</Table.Th>
                  <Table.Th scope="col">Actions</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                <QueryRows
                  query={sandboxes}
                  loading={<SkeletonRows columns={COLUMNS} rows={4} height={22} />}
                  empty={
                    <EmptyRow columns={COLUMNS} size="md">
                      No sandboxes. Tools and agents create them when they run code.
                    </EmptyRow>
                  }
                >
                  {(sandbox) => (
                    <SandboxRow
                      key={sandbox.id}
                      sandbox={sandbox}
                      onOutcome={(error) => {
                        setActionError(error);
                      }}
                    />
                  )}
                </QueryRows>
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
    </Stack>
  );
}
