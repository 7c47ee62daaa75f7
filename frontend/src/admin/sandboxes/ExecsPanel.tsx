import { Button, Code, Stack, Table, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';

import { formatTime } from '../audit/display-format.js';
import { QueryError } from '../QueryError.js';
import { EmptyRow, QueryRows, SkeletonRows } from '../TableState.js';
import { ExecOutput } from './ExecOutput.js';
import { ExecStatusBadge } from './ExecStatusBadge.js';
import { listExecs, sandboxKeys, type Exec } from './sandbox-api.js';

/** A fallback to the event stream's invalidations: a running exec's end is never missed for long. */
const RUNNING_REFRESH_MS = 5000;
const COLUMNS = 6;

function ExecRow({ exec, selected, onSelect }: { exec: Exec; selected: boolean; onSelect: () => void }) {
  return (
    <Table.Tr bg={selected ? 'var(--mantine-primary-color-light)' : undefined}>
      <Table.Td maw={320}>
        <Code
          title={exec.argv.join(' ')}
          style={{ display: 'block', overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}
        >
          {exec.argv.join(' ')}
        </Code>
      </Table.Td>
      <Table.Td>
        <ExecStatusBadge exec={exec} />
      </Table.Td>
      <Table.Td ta="right" ff="monospace">
        {exec.exit_code ?? '—'}
      </Table.Td>
      <Table.Td>{formatTime(exec.started_at)}</Table.Td>
      <Table.Td>{formatTime(exec.ended_at)}</Table.Td>
      <Table.Td>
        <Button
          size="compact-xs"
          variant={selected ? 'filled' : 'light'}
          aria-pressed={selected}
          aria-label={`Show the output of ${exec.argv.join(' ')}`}
          onClick={onSelect}
        >
          Output
        </Button>
      </Table.Td>
    </Table.Tr>
  );
}

/** The programs run in the sandbox, newest first, and the output of the one selected (the newest by default). */
export function ExecsPanel({
  sandboxId,
  selectedId,
  onSelect,
}: {
  sandboxId: string;
  selectedId: string | undefined;
  onSelect: (execId: string) => void;
}) {
  const execs = useQuery({
    queryKey: sandboxKeys.execs(sandboxId),
    queryFn: ({ signal }) => listExecs(sandboxId, signal),
    refetchInterval: (query) =>
      query.state.data?.some((exec) => exec.status === 'running') === true ? RUNNING_REFRESH_MS : false,
  });
  const rows = execs.data ?? [];
  const selected = rows.find((exec) => exec.id === selectedId) ?? rows[0];

  return (
    <Stack gap="md">
      <Title order={2} size="h4">
        Execs
      </Title>
      {execs.isError && execs.data === undefined ? (
        <QueryError query={execs} />
      ) : (
        <Table.ScrollContainer minWidth={720} maxHeight={360}>
          <Table verticalSpacing="xs" highlightOnHover stickyHeader aria-busy={execs.isPending}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th scope="col">Command</Table.Th>
                <Table.Th scope="col">Status</Table.Th>
                <Table.Th scope="col" ta="right">
                  Exit code
                </Table.Th>
                <Table.Th scope="col">Started</Table.Th>
                <Table.Th scope="col">Ended</Table.Th>
                <Table.Th scope="col">Output</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              <QueryRows
                query={execs}
                loading={<SkeletonRows columns={COLUMNS} />}
                empty={
                  <EmptyRow columns={COLUMNS} py="md">
                    Nothing has run in this sandbox yet.
                  </EmptyRow>
                }
              >
                {(exec) => (
                  <ExecRow
                    key={exec.id}
                    exec={exec}
                    selected={exec.id === selected?.id}
                    onSelect={() => {
                      onSelect(exec.id);
                    }}
                  />
                )}
              </QueryRows>
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {selected !== undefined && <ExecOutput key={selected.id} sandboxId={sandboxId} exec={selected} />}
    </Stack>
  );
}
