import {
  Anchor,
  Badge,
  Button,
  Group,
  NativeSelect,
  Paper,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconFilter, IconX } from '@tabler/icons-react';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';

import { ErrorAlert } from '../../api/ErrorAlert.js';
import { EVENT_TYPE_LABELS } from '../../receipts/event-labels.js';
import { QueryError } from '../QueryError.js';
import { EmptyRow, QueryRows, SkeletonRows } from '../TableState.js';
import { fetchTurns, type TurnFilters, type TurnSummary } from './audit-api.js';
import { CheckpointCard } from './CheckpointCard.js';
import { formatTime, shortId } from './display-format.js';
import { VerifyLogCard } from './VerifyLogCard.js';

const FILTER_KEYS = ['user', 'from', 'to', 'type'] as const;

const EVENT_TYPE_OPTIONS = [
  { value: '', label: 'Any event' },
  ...Object.entries(EVENT_TYPE_LABELS).map(([value, label]) => ({ value, label })),
];

function filtersOf(params: URLSearchParams): TurnFilters {
  return {
    user: params.get('user') ?? '',
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
    type: params.get('type') ?? '',
  };
}

/** The filter form edits a draft; the URL (and so the request) changes only when it is applied. */
function TurnFiltersForm({
  applied,
  onApply,
}: {
  applied: TurnFilters;
  onApply: (next: TurnFilters) => void;
}) {
  const [draft, setDraft] = useState(applied);
  const set = (key: keyof TurnFilters) => (value: string) => {
    setDraft((current) => ({ ...current, [key]: value }));
  };
  const active = FILTER_KEYS.some((key) => applied[key] !== '');
  return (
    <form
      aria-label="Filter turns"
      onSubmit={(event) => {
        event.preventDefault();
        onApply(draft);
      }}
    >
      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }} spacing="sm">
        <TextInput
          label="User id"
          placeholder="Any user"
          value={draft.user}
          onChange={(event) => {
            set('user')(event.currentTarget.value);
          }}
        />
        <TextInput
          type="date"
          label="From"
          value={draft.from}
          onChange={(event) => {
            set('from')(event.currentTarget.value);
          }}
        />
        <TextInput
          type="date"
          label="To"
          value={draft.to}
          onChange={(event) => {
            set('to')(event.currentTarget.value);
          }}
        />
        <NativeSelect
          label="Event type"
          data={EVENT_TYPE_OPTIONS}
          value={draft.type}
          onChange={(event) => {
            set('type')(event.currentTarget.value);
          }}
        />
      </SimpleGrid>
      <Group mt="sm" gap="sm">
        <Button type="submit" leftSection={<IconFilter size={16} />}>
          Apply filters
        </Button>
        {active && (
          <Button
            variant="subtle"
            color="gray"
            leftSection={<IconX size={16} />}
            onClick={() => {
              const none = { user: '', from: '', to: '', type: '' };
              setDraft(none);
              onApply(none);
            }}
          >
            Clear
          </Button>
        )}
      </Group>
    </form>
  );
}

function TurnRow({ turn }: { turn: TurnSummary }) {
  return (
    <Table.Tr>
      <Table.Td>
        <Anchor
          component={Link}
          to={`/admin/audit/turns/${turn.turn_id}`}
          ff="monospace"
          title={turn.turn_id}
          style={{ whiteSpace: 'nowrap' }}
        >
          {shortId(turn.turn_id)}
        </Anchor>
      </Table.Td>
      <Table.Td style={{ wordBreak: 'break-all' }}>{turn.user_id}</Table.Td>
      <Table.Td>{formatTime(turn.started_at)}</Table.Td>
      <Table.Td ta="right">{turn.event_count}</Table.Td>
      <Table.Td>
        <Badge variant="light" color={turn.state === 'sealed' ? 'green' : 'yellow'}>
          {turn.state}
        </Badge>
      </Table.Td>
      <Table.Td ta="right" ff="monospace">
        {turn.log_index ?? '—'}
      </Table.Td>
    </Table.Tr>
  );
}

const COLUMNS = 6;

function TurnsTable({ filters }: { filters: TurnFilters }) {
  const turns = useInfiniteQuery({
    queryKey: ['admin-audit-turns', filters],
    queryFn: ({ pageParam, signal }) => fetchTurns(filters, pageParam, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor,
  });
  const rows = turns.data?.pages.flatMap((page) => page.turns) ?? [];
  const filtered = FILTER_KEYS.some((key) => filters[key] !== '');

  if (turns.isError && turns.data === undefined) return <QueryError query={turns} />;
  return (
    <Stack gap="sm">
      <Table.ScrollContainer minWidth={680}>
        <Table striped highlightOnHover verticalSpacing="xs" aria-busy={turns.isPending}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">Turn</Table.Th>
              <Table.Th scope="col">User</Table.Th>
              <Table.Th scope="col">Started</Table.Th>
              <Table.Th scope="col" ta="right">
                Events
              </Table.Th>
              <Table.Th scope="col">State</Table.Th>
              <Table.Th scope="col" ta="right">
                Log index
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            <QueryRows
              query={{ isPending: turns.isPending, isSuccess: turns.isSuccess, data: rows }}
              loading={<SkeletonRows columns={COLUMNS} rows={6} />}
              empty={
                <EmptyRow columns={COLUMNS} size="md">
                  {filtered ? 'No turns match these filters.' : 'No turns recorded yet.'}
                </EmptyRow>
              }
            >
              {(turn) => <TurnRow key={turn.turn_id} turn={turn} />}
            </QueryRows>
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {turns.isFetchNextPageError && (
        <ErrorAlert
          error={turns.error}
          onRetry={() => {
            void turns.fetchNextPage();
          }}
        />
      )}
      {turns.hasNextPage && (
        <Group justify="center">
          <Button
            variant="default"
            loading={turns.isFetchingNextPage}
            onClick={() => {
              void turns.fetchNextPage();
            }}
          >
            Load more
          </Button>
        </Group>
      )}
    </Stack>
  );
}

/** `/admin/audit`: the tenant's turns, the whole-log verification and the latest signed checkpoint. */
export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const filters = filtersOf(params);
  const apply = (next: TurnFilters) => {
    const query = new URLSearchParams();
    for (const key of FILTER_KEYS) if (next[key].trim() !== '') query.set(key, next[key].trim());
    setParams(query);
  };
  return (
    <Stack gap="lg" p={{ base: 'sm', sm: 'md' }}>
      <div>
        <Title order={1} size="h2">
          Audit
        </Title>
        <Text c="dimmed">Every turn of this tenant, sealed into a signed, append-only log.</Text>
      </div>
      <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="md">
        <VerifyLogCard />
        <CheckpointCard />
      </SimpleGrid>
      <Paper withBorder p="md" component="section" aria-labelledby="turns-title">
        <Stack gap="md">
          <Title order={2} size="h4" id="turns-title">
            Turns
          </Title>
          <TurnFiltersForm key={params.toString()} applied={filters} onApply={apply} />
          <TurnsTable filters={filters} />
        </Stack>
      </Paper>
    </Stack>
  );
}
