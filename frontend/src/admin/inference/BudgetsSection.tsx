import {
  Button,
  Group,
  Modal,
  NativeSelect,
  NumberInput,
  Progress,
  SegmentedControl,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { IconPlus } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { useState, type SubmitEvent } from 'react';

import { apiJson } from '../../api/client.js';
import { FormActions } from '../FormActions.js';
import { ActionsHeader, RowActions } from '../RowActions.js';
import { EmptyRow, QueryRows, QueryTable, SkeletonRows } from '../TableState.js';
import { useConfirmedMutation } from '../use-confirmed-mutation.js';
import { ConfirmModal } from './ConfirmModal.js';
import { formatUsd } from './format.js';
import { INFERENCE_API, useBudgets, useInvalidateInference, type Budget } from './inference-api.js';

type Period = Budget['period'];

function budgetPath(userId: string | null): string {
  return userId === null
    ? `${INFERENCE_API}/budgets/tenant`
    : `${INFERENCE_API}/budgets/users/${encodeURIComponent(userId)}`;
}

function scopeLabel(budget: Pick<Budget, 'user_id'>): string {
  return budget.user_id === null ? 'Whole tenant' : `User ${budget.user_id}`;
}

function BudgetForm({ budget, onDone }: { budget: Budget | undefined; onDone: () => void }) {
  const invalidate = useInvalidateInference();
  const [scope, setScope] = useState<'tenant' | 'user'>(budget?.scope ?? 'tenant');
  const [userId, setUserId] = useState(budget?.user_id ?? '');
  const [period, setPeriod] = useState<Period>(budget?.period ?? 'month');
  const [limit, setLimit] = useState<number | string>(budget?.limit_usd ?? '');
  const [checked, setChecked] = useState(false);
  const save = useMutation({
    mutationFn: ({ user, body }: { user: string | null; body: { period: Period; limit_usd: number } }) =>
      apiJson<Budget>(budgetPath(user), { method: 'PUT', body }),
    onSuccess: () => {
      onDone();
    },
    onSettled: () => invalidate(),
  });
  const userError = checked && scope === 'user' && userId.trim() === '' ? 'Enter the user id' : undefined;
  const limitError =
    checked && (typeof limit !== 'number' || limit < 0)
      ? 'Enter a limit in USD (0 stops every call)'
      : undefined;

  function submit(event: SubmitEvent) {
    event.preventDefault();
    setChecked(true);
    if (typeof limit !== 'number' || limit < 0 || (scope === 'user' && userId.trim() === '')) return;
    save.mutate({ user: scope === 'tenant' ? null : userId.trim(), body: { period, limit_usd: limit } });
  }

  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="sm">
        {budget === undefined ? (
          <SegmentedControl
            aria-label="Budget for"
            data={[
              { value: 'tenant', label: 'Whole tenant' },
              { value: 'user', label: 'One user' },
            ]}
            value={scope}
            onChange={(value) => {
              setScope(value === 'user' ? 'user' : 'tenant');
            }}
          />
        ) : (
          <Text size="sm" fw={500}>
            {scopeLabel(budget)}
          </Text>
        )}
        {scope === 'user' && budget === undefined && (
          <TextInput
            label="User id"
            description="As the usage report lists it when grouped by user."
            value={userId}
            onChange={(event) => {
              setUserId(event.currentTarget.value);
            }}
            error={userError}
            required
            spellCheck={false}
            autoComplete="off"
          />
        )}
        <NativeSelect
          label="Period"
          description="Calendar periods in UTC."
          data={[
            { value: 'month', label: 'Per month' },
            { value: 'day', label: 'Per day' },
          ]}
          value={period}
          onChange={(event) => {
            setPeriod(event.currentTarget.value === 'day' ? 'day' : 'month');
          }}
        />
        <NumberInput
          label="Limit (USD)"
          description="Calls are refused once it is spent; 0 stops every call. Models without a price never count."
          prefix="$"
          min={0}
          decimalScale={2}
          value={limit}
          onChange={setLimit}
          error={limitError}
          required
        />
        <FormActions error={save.error} pending={save.isPending} onCancel={onDone} />
      </Stack>
    </form>
  );
}

function SpendBar({ budget }: { budget: Budget }) {
  const share = budget.limit_usd === 0 ? 1 : budget.spent_usd / budget.limit_usd;
  const color = share >= 1 ? 'red' : share >= 0.8 ? 'orange' : 'blue';
  return (
    <Stack gap={4} miw={160}>
      <Text size="sm">
        {formatUsd(budget.spent_usd)} of {formatUsd(budget.limit_usd)}
      </Text>
      <Progress
        value={Math.min(100, share * 100)}
        color={color}
        size="sm"
        aria-label={`${scopeLabel(budget)}: ${Math.round(share * 100)}% of the budget spent`}
      />
    </Stack>
  );
}

/** Spending limits of the tenant and its users, with what the current period has spent. */
export function BudgetsSection() {
  const budgets = useBudgets();
  const invalidate = useInvalidateInference();
  const [form, setForm] = useState<{ budget: Budget | undefined } | undefined>();
  const remove = useConfirmedMutation({
    mutationFn: (budget: Budget) => apiJson<undefined>(budgetPath(budget.user_id), { method: 'DELETE' }),
    onSettled: () => invalidate(),
  });

  return (
    <Stack gap="sm">
      <Group justify="space-between" wrap="wrap" gap="sm">
        <Title order={2} size="h4">
          Budgets
        </Title>
        <Button
          variant="light"
          leftSection={<IconPlus size={16} />}
          onClick={() => {
            setForm({ budget: undefined });
          }}
        >
          Set budget
        </Button>
      </Group>
      <QueryTable query={budgets} minWidth={560} verticalSpacing="xs" aria-label="Budgets">
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">For</Table.Th>
            <Table.Th scope="col">Period</Table.Th>
            <Table.Th scope="col">Spent</Table.Th>
            <ActionsHeader />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          <QueryRows
            query={budgets}
            loading={<SkeletonRows columns={4} rows={1} />}
            empty={
              <EmptyRow columns={4} py="md">
                No budgets: spending is not limited.
              </EmptyRow>
            }
          >
            {(budget) => (
              <Table.Tr key={budget.user_id ?? ''}>
                <Table.Th scope="row" fw={budget.user_id === null ? 600 : 400}>
                  {scopeLabel(budget)}
                </Table.Th>
                <Table.Td>
                  <Text size="sm">{budget.period === 'day' ? 'Per day' : 'Per month'}</Text>
                  <Text size="xs" c="dimmed">
                    since {budget.period_start.slice(0, 10)} (UTC)
                  </Text>
                </Table.Td>
                <Table.Td>
                  <SpendBar budget={budget} />
                </Table.Td>
                <RowActions
                  item={`budget: ${scopeLabel(budget)}`}
                  deleteLabel="Remove"
                  onEdit={() => {
                    setForm({ budget });
                  }}
                  onDelete={() => {
                    remove.ask(budget);
                  }}
                />
              </Table.Tr>
            )}
          </QueryRows>
        </Table.Tbody>
      </QueryTable>
      <Modal
        opened={form !== undefined}
        onClose={() => {
          setForm(undefined);
        }}
        title={form?.budget === undefined ? 'Set budget' : 'Edit budget'}
      >
        {form !== undefined && (
          <BudgetForm
            key={form.budget === undefined ? 'new' : (form.budget.user_id ?? 'tenant')}
            budget={form.budget}
            onDone={() => {
              setForm(undefined);
            }}
          />
        )}
      </Modal>
      <ConfirmModal {...remove.dialog} title="Remove this budget?" confirmLabel="Remove">
        <Text size="sm">
          {remove.target === undefined ? '' : scopeLabel(remove.target)}: spending will no longer be limited.
        </Text>
      </ConfirmModal>
    </Stack>
  );
}
