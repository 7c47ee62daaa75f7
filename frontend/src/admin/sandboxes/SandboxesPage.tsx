import {
  ActionIcon,
  Anchor,
  Badge,
  Group,
  Paper,
  Skeleton,
  Stack,
  Table,
  Text,
  Title,
  Tooltip,
} from '@mantine/core';
import { IconRefresh } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';

import { ErrorAlert } from '../../api/ErrorAlert.js';
import { formatTime, shortId } from '../audit/display-format.js';
import { SandboxActions } from './SandboxActions.js';
import { isTransitional, listSandboxes, sandboxKeys, type Sandbox } from './sandbox-api.js';
import { SandboxStateBadge } from './SandboxStateBadge.js';

/** How often the list is read again while a sandbox is still converging (pending, provisioning, deleting). */
const CONVERGING_REFRESH_MS = 3000;
const COLUMNS = 6;

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
  const rows = sandboxes.data ?? [];
  return (
    <Stack gap="lg" p={{ base: 'sm', sm: 'md' }}>
      <Group justify="space-between" align="flex-start" wrap="nowrap">
        <div>
          <Title order={1} size="h2">
            Sandboxes
          </Title>
          <Text c="dimmed">Isolated workspaces where tools and agents run code.</Text>
        </div>
        <Tooltip label="Refresh" withArrow>
          <ActionIcon
            variant="subtle"
            color="gray"
            size="lg"
            aria-label="Refresh the sandboxes"
            loading={sandboxes.isFetching}
            onClick={() => {
              void sandboxes.refetch();
            }}
          >
            <IconRefresh size={20} />
          </ActionIcon>
        </Tooltip>
      </Group>
      {actionError !== undefined && <ErrorAlert error={actionError} />}
      {sandboxes.isError && sandboxes.data === undefined ? (
        <ErrorAlert
          error={sandboxes.error}
          onRetry={() => {
            void sandboxes.refetch();
          }}
        />
      ) : (
        <Paper withBorder>
          <Table.ScrollContainer minWidth={760}>
            <Table highlightOnHover verticalSpacing="sm" aria-busy={sandboxes.isPending}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th scope="col">ID</Table.Th>
                  <Table.Th scope="col">Name</Table.Th>
                  <Table.Th scope="col">Runtime</Table.Th>
                  <Table.Th scope="col">State</Table.Th>
                  <Table.Th scope="col">Created</Table.Th>
                  <Table.Th scope="col">Actions</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {sandboxes.isPending &&
                  Array.from({ length: 4 }, (_, row) => (
                    <Table.Tr key={row}>
                      {Array.from({ length: COLUMNS }, (_, cell) => (
                        <Table.Td key={cell}>
                          <Skeleton height={22} />
                        </Table.Td>
                      ))}
                    </Table.Tr>
                  ))}
                {rows.map((sandbox) => (
                  <SandboxRow
                    key={sandbox.id}
                    sandbox={sandbox}
                    onOutcome={(error) => {
                      setActionError(error);
                    }}
                  />
                ))}
                {sandboxes.isSuccess && rows.length === 0 && (
                  <Table.Tr>
                    <Table.Td colSpan={COLUMNS}>
                      <Text c="dimmed" ta="center" py="lg">
                        No sandboxes. Tools and agents create them when they run code.
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
    </Stack>
  );
}
