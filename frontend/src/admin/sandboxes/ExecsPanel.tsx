import { Button, Code, Stack, Table, Title } from '@mantine/core';
import { IconPlayerStop } from '@tabler/icons-react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { ErrorAlert } from '../../api/ErrorAlert.js';
import { formatTime } from '../audit/display-format.js';
import { QueryError } from '../QueryError.js';
import { ActionsHeader } from '../RowActions.js';
import { EmptyRow, QueryRows, SkeletonRows } from '../TableState.js';
import { TooltipActionIcon } from '../TooltipActionIcon.js';
import { ExecOutput } from './ExecOutput.js';
import { ExecStatusBadge } from './ExecStatusBadge.js';
import { cancelExec, listExecs, sandboxKeys, type Exec } from './sandbox-api.js';

/** A fallback to the event stream's invalidations: a running exec's end is never missed for long. */
const RUNNING_REFRESH_MS = 5000;
const COLUMNS = 7;

/**
 * Cancel for a running exec. The answer (the exec as it ended) goes straight into the list so the row changes
 * at once, and the output switches from the live follow to the stored pages; the list is then read again,
 * after a refusal too (409 `exec_not_running`: it ended first), so the row shows how it really ended.
 */
function useCancelExec(sandboxId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (execId: string) => cancelExec(sandboxId, execId),
    onSuccess: (ended) => {
      client.setQueryData<readonly Exec[]>(sandboxKeys.execs(sandboxId), (list) =>
        list?.map((row) => (row.id === ended.id ? ended : row)),
      );
    },
    onSettled: () => client.invalidateQueries({ queryKey: sandboxKeys.execs(sandboxId) }),
  });
}

function ExecRow({
  exec,
  selected,
  onSelect,
  cancelling,
  onCancel,
}: {
  exec: Exec;
  selected: boolean;
  onSelect: () => void;
  /** `this` while this exec's cancel is on its way, `other` while another's is: one cancel at a time. */
  cancelling: 'this' | 'other' | false;
  onCancel: () => void;
}) {
  const command = exec.argv.join(' ');
  return (
    <Table.Tr bg={selected ? 'var(--mantine-primary-color-light)' : undefined}>
      <Table.Td maw={320}>
        <Code
          title={command}
          style={{ display: 'block', overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}
        >
          {command}
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
          aria-label={`Show the output of ${command}`}
          onClick={onSelect}
        >
          Output
        </Button>
      </Table.Td>
      <Table.Td>
        {exec.status === 'running' && (
          <TooltipActionIcon
            label="Cancel exec"
            aria-label={`Cancel ${command}`}
            color="red"
            loading={cancelling === 'this'}
            disabled={cancelling !== false}
            onClick={onCancel}
          >
            <IconPlayerStop size={18} />
          </TooltipActionIcon>
        )}
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
  const cancel = useCancelExec(sandboxId);
  const rows = execs.data ?? [];
  const selected = rows.find((exec) => exec.id === selectedId) ?? rows[0];

  return (
    <Stack gap="md">
      <Title order={2} size="h4">
        Execs
      </Title>
      {cancel.isError && <ErrorAlert error={cancel.error} />}
      {execs.isError && execs.data === undefined ? (
        <QueryError query={execs} />
      ) : (
        <Table.ScrollContainer minWidth={760} maxHeight={360}>
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
                <ActionsHeader w={48} />
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
                    cancelling={cancel.isPending && (cancel.variables === exec.id ? 'this' : 'other')}
                    onCancel={() => {
                      cancel.mutate(exec.id);
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
