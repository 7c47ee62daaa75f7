import {
  Autocomplete,
  Button,
  Fieldset,
  Group,
  Modal,
  NumberInput,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconPencil, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';

import { apiJson } from '../../api/client.js';
import { FormActions } from '../FormActions.js';
import { EmptyRow, QueryRows, QueryTable, SkeletonRows } from '../TableState.js';
import { TooltipActionIcon } from '../TooltipActionIcon.js';
import { formatUsd } from './format.js';
import {
  INFERENCE_API,
  knownModels,
  MODEL_ID,
  useInvalidateInference,
  usePrices,
  useProbedModels,
  useRoles,
  type Price,
} from './inference-api.js';

interface PriceDraft {
  readonly id: string;
  model: string;
  input: number | string;
  cached: number | string;
  output: number | string;
}

interface PriceBody {
  model: string;
  input_per_mtok: number;
  cached_input_per_mtok?: number;
  output_per_mtok: number;
}

function draftOf(price?: Partial<Price>): PriceDraft {
  return {
    id: crypto.randomUUID(),
    model: price?.model ?? '',
    input: price?.input_per_mtok ?? '',
    cached: price?.cached_input_per_mtok ?? '',
    output: price?.output_per_mtok ?? '',
  };
}

function isAmount(value: number | string): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** Each row's problem, or the sheet as the API takes it when there is none. */
function validate(drafts: readonly PriceDraft[]): { errors: Map<string, string>; body?: PriceBody[] } {
  const errors = new Map<string, string>();
  const seen = new Set<string>();
  const body: PriceBody[] = [];
  for (const draft of drafts) {
    const model = draft.model.trim();
    if (!MODEL_ID.test(model)) errors.set(draft.id, 'Write the model as <provider>/<model>');
    else if (seen.has(model)) errors.set(draft.id, 'This model has a price above already');
    else if (!isAmount(draft.input) || !isAmount(draft.output))
      errors.set(draft.id, 'Input and output prices are required');
    else {
      body.push({
        model,
        input_per_mtok: draft.input,
        ...(isAmount(draft.cached) ? { cached_input_per_mtok: draft.cached } : {}),
        output_per_mtok: draft.output,
      });
    }
    seen.add(model);
  }
  return errors.size === 0 ? { errors, body } : { errors };
}

/** One price of a draft, in USD per million tokens: six decimals, as some cost fractions of a cent. */
function PriceInput({
  label,
  placeholder,
  value,
  onChange,
}: {
  label: string;
  placeholder?: string;
  value: number | string;
  onChange: (value: number | string) => void;
}) {
  return (
    <NumberInput
      label={label}
      placeholder={placeholder}
      prefix="$"
      min={0}
      decimalScale={6}
      value={value}
      onChange={onChange}
    />
  );
}

function PriceSheetForm({ prices, onDone }: { prices: readonly Price[]; onDone: () => void }) {
  const invalidate = useInvalidateInference();
  const roles = useRoles();
  const { probed } = useProbedModels();
  const [drafts, setDrafts] = useState<PriceDraft[]>(() =>
    prices.length === 0 ? [draftOf()] : prices.map((price) => draftOf(price)),
  );
  const [errors, setErrors] = useState<Map<string, string>>(new Map());

  const save = useMutation({
    mutationFn: (sheet: PriceBody[]) =>
      apiJson<{ prices: Price[] }>(`${INFERENCE_API}/prices`, { method: 'PUT', body: { prices: sheet } }),
    onSuccess: () => {
      notifications.show({
        color: 'green',
        title: 'Prices saved',
        message: 'New calls are priced with them.',
      });
      onDone();
    },
    onSettled: () => invalidate(),
  });

  const models = knownModels(probed, roles.data, undefined);
  const inRoles = [...new Set((roles.data ?? []).flatMap((role) => role.models))];
  const unpricedInRoles = inRoles.filter((model) => !drafts.some((draft) => draft.model.trim() === model));

  function change(id: string, patch: Partial<Omit<PriceDraft, 'id'>>) {
    setDrafts((current) => current.map((draft) => (draft.id === id ? { ...draft, ...patch } : draft)));
    setErrors((current) => {
      const next = new Map(current);
      next.delete(id);
      return next;
    });
  }

  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        USD per million tokens of each concrete model. Cached input defaults to the input price. Saving
        replaces the whole sheet.
      </Text>
      {drafts.map((draft, index) => (
        <Fieldset key={draft.id} legend={`Price ${index + 1}`} variant="filled" p="sm">
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="xs" verticalSpacing="xs">
            <Autocomplete
              label="Model"
              placeholder="provider/model"
              data={models}
              value={draft.model}
              onChange={(value) => {
                change(draft.id, { model: value });
              }}
              spellCheck={false}
              autoComplete="off"
              limit={50}
            />
            <PriceInput
              label="Input"
              value={draft.input}
              onChange={(value) => {
                change(draft.id, { input: value });
              }}
            />
            <PriceInput
              label="Cached input"
              placeholder="same as input"
              value={draft.cached}
              onChange={(value) => {
                change(draft.id, { cached: value });
              }}
            />
            <PriceInput
              label="Output"
              value={draft.output}
              onChange={(value) => {
                change(draft.id, { output: value });
              }}
            />
          </SimpleGrid>
          <Group justify="space-between" mt="xs" wrap="nowrap">
            <Text size="sm" c="red" role={errors.has(draft.id) ? 'alert' : undefined}>
              {errors.get(draft.id) ?? ''}
            </Text>
            <TooltipActionIcon
              label="Remove"
              color="red"
              aria-label={`Remove price ${index + 1}${draft.model === '' ? '' : ` (${draft.model})`}`}
              onClick={() => {
                setDrafts((current) => current.filter((other) => other.id !== draft.id));
              }}
            >
              <IconTrash size={18} />
            </TooltipActionIcon>
          </Group>
        </Fieldset>
      ))}
      <Group gap="sm">
        <Button
          variant="light"
          leftSection={<IconPlus size={16} />}
          onClick={() => {
            setDrafts((current) => [...current, draftOf()]);
          }}
        >
          Add price
        </Button>
        {unpricedInRoles.length > 0 && (
          <Button
            variant="subtle"
            onClick={() => {
              setDrafts((current) => [
                ...current.filter((draft) => draft.model.trim() !== ''),
                ...unpricedInRoles.map((model) => draftOf({ model })),
              ]);
            }}
          >
            Add the {unpricedInRoles.length} unpriced {unpricedInRoles.length === 1 ? 'model' : 'models'} in
            roles
          </Button>
        )}
      </Group>
      <FormActions
        error={save.error}
        pending={save.isPending}
        onCancel={onDone}
        onSubmit={() => {
          const checked = validate(drafts);
          setErrors(checked.errors);
          if (checked.body !== undefined) save.mutate(checked.body);
        }}
      />
    </Stack>
  );
}

/** The price sheet: where the usage report's costs come from, and the dialog that replaces it. */
export function PricesSection() {
  const prices = usePrices();
  const [editing, setEditing] = useState(false);
  return (
    <Stack gap="sm">
      <Group justify="space-between" wrap="wrap" gap="sm">
        <Title order={2} size="h4">
          Prices
        </Title>
        <Button
          variant="light"
          leftSection={<IconPencil size={16} />}
          disabled={prices.isPending || prices.isError}
          onClick={() => {
            setEditing(true);
          }}
        >
          Edit prices
        </Button>
      </Group>
      <QueryTable query={prices} minWidth={560} verticalSpacing="xs" aria-label="Prices">
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">Model</Table.Th>
            <Table.Th scope="col" ta="right">
              Input / 1M tokens
            </Table.Th>
            <Table.Th scope="col" ta="right">
              Cached input / 1M
            </Table.Th>
            <Table.Th scope="col" ta="right">
              Output / 1M tokens
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          <QueryRows
            query={prices}
            loading={<SkeletonRows columns={4} rows={2} />}
            empty={
              <EmptyRow columns={4} py="md">
                No prices yet: tokens are counted, but every cost is $0 until models have a price.
              </EmptyRow>
            }
          >
            {(price) => (
              <Table.Tr key={price.model}>
                <Table.Th scope="row" fw={400}>
                  <Text size="sm" ff="monospace">
                    {price.model}
                  </Text>
                </Table.Th>
                <Table.Td ta="right">{formatUsd(price.input_per_mtok)}</Table.Td>
                <Table.Td ta="right">
                  {price.cached_input_per_mtok === null ? (
                    <Text span size="sm" c="dimmed">
                      as input
                    </Text>
                  ) : (
                    formatUsd(price.cached_input_per_mtok)
                  )}
                </Table.Td>
                <Table.Td ta="right">{formatUsd(price.output_per_mtok)}</Table.Td>
              </Table.Tr>
            )}
          </QueryRows>
        </Table.Tbody>
      </QueryTable>
      <Modal
        opened={editing}
        onClose={() => {
          setEditing(false);
        }}
        title="Edit prices"
        size="lg"
      >
        {editing && prices.data !== undefined && (
          <PriceSheetForm
            prices={prices.data}
            onDone={() => {
              setEditing(false);
            }}
          />
        )}
      </Modal>
    </Stack>
  );
}
