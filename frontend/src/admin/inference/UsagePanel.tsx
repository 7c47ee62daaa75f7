import {
  Alert,
  Badge,
  Divider,
  Group,
  SegmentedControl,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconInfoCircle } from '@tabler/icons-react';
import { useId, useState } from 'react';

import { EmptyRow, QueryTable, SkeletonRows } from '../TableState.js';
import { BudgetsSection } from './BudgetsSection.js';
import { formatCount, formatUsd } from './format.js';
import {
  usePrices,
  useUsage,
  USAGE_GROUPS,
  type UsageGroup,
  type UsageParams,
  type UsageRow,
} from './inference-api.js';
import { PricesSection } from './PricesSection.js';

const GROUP_LABELS: Readonly<Record<UsageGroup, string>> = {
  user: 'User',
  model: 'Model',
  provider: 'Provider',
  role: 'Role',
  day: 'Day',
};

const DAY_MS = 86_400_000;
const MAX_RANGE_DAYS = 400;
/** The right-aligned columns after the group's own, in the order `Numbers` fills them. */
const NUMBER_HEADERS = ['Requests', 'Errors', 'Prompt tokens', 'Cached', 'Completion tokens', 'Cost'];
const COLUMNS = 1 + NUMBER_HEADERS.length;

/** A `YYYY-MM-DD` of a UTC day: the router's periods and report days are UTC. */
function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** This month so far, as the router's own default. */
function thisMonth(now: Date): { from: string; to: string } {
  return { from: `${utcDay(now).slice(0, 8)}01`, to: utcDay(now) };
}

/** The report's query for an inclusive range of days, or why there is none. */
function rangeQuery(
  from: string,
  to: string,
  groupBy: UsageGroup,
): { params: UsageParams } | { error: string } {
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`) + DAY_MS;
  if (Number.isNaN(start) || Number.isNaN(end)) return { error: 'Pick both dates' };
  if (end <= start) return { error: 'The end comes before the start' };
  if (end - start > MAX_RANGE_DAYS * DAY_MS)
    return { error: `A report covers at most ${MAX_RANGE_DAYS} days` };
  return { params: { from: new Date(start).toISOString(), to: new Date(end).toISOString(), groupBy } };
}

function rowLabel(row: UsageRow, groupBy: UsageGroup): string {
  if (row.key !== '') return row.key;
  return groupBy === 'provider'
    ? 'No provider answered'
    : groupBy === 'role'
      ? 'Concrete model, no role'
      : '—';
}

function Numbers({ row }: { row: Omit<UsageRow, 'key' | 'latency_ms_avg' | 'ttft_ms_avg'> }) {
  return (
    <>
      <Table.Td ta="right">{formatCount(row.requests)}</Table.Td>
      <Table.Td ta="right">
        {row.errors === 0 ? (
          '0'
        ) : (
          <Text span size="sm" c="red">
            {formatCount(row.errors)}
          </Text>
        )}
      </Table.Td>
      <Table.Td ta="right">{formatCount(row.prompt_tokens)}</Table.Td>
      <Table.Td ta="right">{formatCount(row.cached_tokens)}</Table.Td>
      <Table.Td ta="right">{formatCount(row.completion_tokens)}</Table.Td>
      <Table.Td ta="right">
        <Group gap={6} justify="flex-end" wrap="nowrap">
          {row.unpriced_requests > 0 && (
            <Badge
              color="orange"
              variant="light"
              tt="none"
              radius="sm"
              title={`${formatCount(row.unpriced_requests)} requests of models without a price`}
            >
              {formatCount(row.unpriced_requests)} unpriced
            </Badge>
          )}
          {formatUsd(row.cost_usd)}
        </Group>
      </Table.Td>
    </>
  );
}

/** Usage by user, model, provider, role or day over a date range, then the prices and budgets behind it. */
export function UsagePanel() {
  const [range, setRange] = useState(() => thisMonth(new Date()));
  const [groupBy, setGroupBy] = useState<UsageGroup>('model');
  const groupLabelId = useId();
  const query = rangeQuery(range.from, range.to, groupBy);
  const usage = useUsage('params' in query ? query.params : undefined);
  const prices = usePrices();
  const report = usage.data;
  const noPrices = prices.data !== undefined && prices.data.length === 0;

  return (
    <Stack gap="xl">
      <Stack gap="sm">
        <Title order={2} size="h4">
          Usage
        </Title>
        <Group gap="sm" align="flex-start" wrap="wrap">
          <TextInput
            type="date"
            label="From"
            value={range.from}
            max={range.to}
            onChange={(event) => {
              const from = event.currentTarget.value;
              setRange((current) => ({ ...current, from }));
            }}
            w={160}
          />
          <TextInput
            type="date"
            label="To"
            value={range.to}
            min={range.from}
            onChange={(event) => {
              const to = event.currentTarget.value;
              setRange((current) => ({ ...current, to }));
            }}
            error={'error' in query ? query.error : undefined}
            w={160}
          />
          <Stack gap={4}>
            <Text size="sm" fw={500} id={groupLabelId}>
              Group by
            </Text>
            <SegmentedControl
              aria-labelledby={groupLabelId}
              data={USAGE_GROUPS.map((group) => ({ value: group, label: GROUP_LABELS[group] }))}
              value={groupBy}
              onChange={(value) => {
                setGroupBy(USAGE_GROUPS.find((group) => group === value) ?? 'model');
              }}
            />
          </Stack>
        </Group>
        <Text size="xs" c="dimmed">
          Days are UTC, both ends included. Costs are in USD.
        </Text>

        {noPrices ? (
          <Alert color="orange" icon={<IconInfoCircle size={18} />} title="No prices set">
            Every cost is $0 because no model has a price yet. Tokens are still counted; add prices below.
          </Alert>
        ) : (
          report !== undefined &&
          report.total.unpriced_requests > 0 && (
            <Alert color="orange" icon={<IconInfoCircle size={18} />} title="Some models have no price">
              {formatCount(report.total.unpriced_requests)} requests used models without a price: their tokens
              are counted, their cost is $0. Add their prices below.
            </Alert>
          )
        )}

        <QueryTable
          query={usage}
          minWidth={760}
          verticalSpacing="xs"
          striped
          aria-label="Usage"
          aria-busy={usage.isFetching}
          style={{ opacity: usage.isPlaceholderData ? 0.6 : 1, transition: 'opacity 150ms' }}
        >
          <Table.Thead>
            <Table.Tr>
              <Table.Th scope="col">{GROUP_LABELS[report?.group_by ?? groupBy]}</Table.Th>
              {NUMBER_HEADERS.map((header) => (
                <Table.Th key={header} scope="col" ta="right">
                  {header}
                </Table.Th>
              ))}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {report === undefined ? (
              'error' in query ? (
                <EmptyRow columns={COLUMNS} py="md">
                  Pick a valid date range.
                </EmptyRow>
              ) : (
                <SkeletonRows columns={COLUMNS} rows={3} />
              )
            ) : report.rows.length === 0 ? (
              <EmptyRow columns={COLUMNS} py="md">
                No model calls in this period.
              </EmptyRow>
            ) : (
              report.rows.map((row) => (
                <Table.Tr key={row.key}>
                  <Table.Th scope="row" fw={400}>
                    <Text size="sm" ff={report.group_by === 'day' ? undefined : 'monospace'}>
                      {rowLabel(row, report.group_by)}
                    </Text>
                  </Table.Th>
                  <Numbers row={row} />
                </Table.Tr>
              ))
            )}
          </Table.Tbody>
          {report !== undefined && report.rows.length > 0 && (
            <Table.Tfoot>
              <Table.Tr fw={700}>
                <Table.Th scope="row">Total</Table.Th>
                <Numbers row={report.total} />
              </Table.Tr>
            </Table.Tfoot>
          )}
        </QueryTable>
      </Stack>
      <Divider />
      <PricesSection />
      <Divider />
      <BudgetsSection />
    </Stack>
  );
}
