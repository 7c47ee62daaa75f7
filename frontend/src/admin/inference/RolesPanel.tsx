import {
  Alert,
  Autocomplete,
  Badge,
  Button,
  Code,
  Group,
  Modal,
  Paper,
  Stack,
  Table,
  Text,
  VisuallyHidden,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconArrowDown, IconArrowUp, IconInfoCircle, IconPencil, IconX } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { useState, type SubmitEvent } from 'react';

import { apiJson } from '../../api/client.js';
import { FormActions } from '../FormActions.js';
import { ActionsHeader } from '../RowActions.js';
import { QueryRows, QueryTable, SkeletonRows } from '../TableState.js';
import { TooltipActionIcon } from '../TooltipActionIcon.js';
import {
  INFERENCE_API,
  knownModels,
  MODEL_ID,
  providerOf,
  useInvalidateInference,
  usePrices,
  useProbedModels,
  useProviders,
  useRoles,
  type Provider,
  type RoleRoute,
} from './inference-api.js';

/** What each role is asked for, so an admin can pick a model that fits it. */
const ROLE_PURPOSE: Readonly<Record<string, string>> = {
  default: 'Chat answers; agents use it unless they name another role.',
  title: 'Names new conversations. A small, fast model is enough.',
  classifier: 'Sorts requests. A small, fast model is enough.',
  memory: 'Decides what to remember about a user.',
  profile_curation: 'Keeps user profiles tidy.',
  vision: 'Reads images; needs a model that accepts them.',
  guardrail: 'Safety verdicts on messages and answers.',
  knowledge: 'Answers from the knowledge base.',
  embedding: 'Turns text into vectors for search; needs an embedding model.',
};

/** Why a role's model might not be used: its provider is gone or switched off. */
function providerProblem(model: string, providers: readonly Provider[] | undefined): string | undefined {
  if (providers === undefined) return undefined;
  const provider = providers.find((candidate) => candidate.name === providerOf(model));
  if (provider === undefined) return 'no such provider';
  return provider.enabled ? undefined : 'provider disabled';
}

function RoleEditor({ route, onDone }: { route: RoleRoute; onDone: () => void }) {
  const invalidate = useInvalidateInference();
  const providers = useProviders();
  const roles = useRoles();
  const prices = usePrices();
  const { probed } = useProbedModels();
  const [models, setModels] = useState<string[]>(() => [...route.models]);
  const [candidate, setCandidate] = useState('');
  const [candidateError, setCandidateError] = useState<string>();
  const [announcement, setAnnouncement] = useState('');

  const save = useMutation({
    mutationFn: (chosen: readonly string[]) =>
      apiJson<RoleRoute>(`${INFERENCE_API}/roles/${encodeURIComponent(route.role)}`, {
        method: 'PUT',
        body: { models: chosen },
      }),
    onSuccess: () => {
      notifications.show({
        color: 'green',
        title: `Saved role ${route.role}`,
        message: 'The router uses it from the next request.',
      });
      onDone();
    },
    onSettled: () => invalidate(),
  });

  const providerNames = new Set((providers.data ?? []).map((provider) => provider.name));
  const offered = knownModels(probed, roles.data, prices.data).filter((model) => !models.includes(model));
  const grouped = [...new Set(offered.map(providerOf))].map((provider) => ({
    group: provider,
    items: offered.filter((model) => providerOf(model) === provider),
  }));

  function add(value: string) {
    const model = value.trim();
    if (!MODEL_ID.test(model)) {
      setCandidateError('Write it as <provider>/<model>, for example openai/gpt-4o');
      return;
    }
    if (providers.data !== undefined && !providerNames.has(providerOf(model))) {
      setCandidateError(`No provider is named ${providerOf(model)}`);
      return;
    }
    if (models.includes(model)) {
      setCandidateError('It is already in the list');
      return;
    }
    setModels([...models, model]);
    setCandidate('');
    setCandidateError(undefined);
    setAnnouncement(`Added ${model} at position ${models.length + 1}`);
  }

  function move(index: number, delta: -1 | 1) {
    const target = index + delta;
    const moved = models[index];
    const other = models[target];
    if (moved === undefined || other === undefined) return;
    const next = [...models];
    next[target] = moved;
    next[index] = other;
    setModels(next);
    setAnnouncement(`Moved ${moved} to position ${target + 1}`);
  }

  function submitCandidate(event: SubmitEvent) {
    event.preventDefault();
    add(candidate);
  }

  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed">
        {ROLE_PURPOSE[route.role] ?? ''} The first model is the primary; the router falls back to the next
        ones, in order, when it fails.
      </Text>
      <VisuallyHidden role="status" aria-live="polite">
        {announcement}
      </VisuallyHidden>
      {models.length === 0 ? (
        <Text size="sm" c="dimmed" ta="center" py="md">
          No models yet. Add one below.
        </Text>
      ) : (
        <Stack component="ol" gap="xs" m={0} p={0} style={{ listStyle: 'none' }} aria-label="Models in order">
          {models.map((model, index) => {
            const problem = providerProblem(model, providers.data);
            return (
              <Paper component="li" key={model} withBorder p="xs" radius="md">
                <Group justify="space-between" wrap="nowrap" gap="xs">
                  <Group gap="xs" wrap="nowrap" miw={0}>
                    <Badge variant={index === 0 ? 'filled' : 'light'} tt="none" radius="sm" miw={72}>
                      {index === 0 ? 'Primary' : `Fallback ${index}`}
                    </Badge>
                    <Text size="sm" ff="monospace" truncate="end" title={model}>
                      {model}
                    </Text>
                    {problem !== undefined && (
                      <Badge color="orange" variant="light" tt="none" radius="sm">
                        {problem}
                      </Badge>
                    )}
                  </Group>
                  <Group gap={2} wrap="nowrap">
                    <TooltipActionIcon
                      label="Move up"
                      aria-label={`Move up ${model}`}
                      disabled={index === 0}
                      onClick={() => {
                        move(index, -1);
                      }}
                    >
                      <IconArrowUp size={18} />
                    </TooltipActionIcon>
                    <TooltipActionIcon
                      label="Move down"
                      aria-label={`Move down ${model}`}
                      disabled={index === models.length - 1}
                      onClick={() => {
                        move(index, 1);
                      }}
                    >
                      <IconArrowDown size={18} />
                    </TooltipActionIcon>
                    <TooltipActionIcon
                      label="Remove"
                      color="red"
                      aria-label={`Remove ${model}`}
                      onClick={() => {
                        setModels(models.filter((other) => other !== model));
                        setAnnouncement(`Removed ${model}`);
                      }}
                    >
                      <IconX size={18} />
                    </TooltipActionIcon>
                  </Group>
                </Group>
              </Paper>
            );
          })}
        </Stack>
      )}

      <form onSubmit={submitCandidate}>
        <Autocomplete
          label="Add a model"
          placeholder="provider/model"
          description="Pick one the providers listed, or type any <provider>/<model>."
          data={grouped}
          value={candidate}
          onChange={(value) => {
            setCandidate(value);
            setCandidateError(undefined);
          }}
          onOptionSubmit={(value) => {
            add(value);
          }}
          error={candidateError}
          spellCheck={false}
          autoComplete="off"
          limit={50}
          inputContainer={(input) => (
            <Group gap="xs" wrap="nowrap" align="flex-start">
              <div style={{ flex: 1 }}>{input}</div>
              <Button type="submit" variant="light">
                Add
              </Button>
            </Group>
          )}
        />
      </form>

      {models.length === 0 && (
        <Text size="xs" c="dimmed">
          A role needs at least one model to be saved.
        </Text>
      )}
      <FormActions
        error={save.error}
        pending={save.isPending}
        onCancel={onDone}
        submitDisabled={models.length === 0}
        onSubmit={() => {
          save.mutate(models);
        }}
      />
    </Stack>
  );
}

function RoleModels({ route, providers }: { route: RoleRoute; providers: readonly Provider[] | undefined }) {
  if (route.models.length === 0) {
    return (
      <Badge color={route.role === 'default' ? 'red' : 'gray'} variant="light" tt="none" radius="sm">
        Not set
      </Badge>
    );
  }
  return (
    <Group gap={6}>
      {route.models.map((model, index) => {
        const problem = providerProblem(model, providers);
        return (
          <Badge
            key={model}
            variant={index === 0 ? 'filled' : 'light'}
            color={problem === undefined ? undefined : 'orange'}
            tt="none"
            radius="sm"
            title={
              (index === 0 ? 'Primary' : `Fallback ${index}`) + (problem === undefined ? '' : ` (${problem})`)
            }
          >
            {model}
          </Badge>
        );
      })}
    </Group>
  );
}

/** The roles tab: which models answer each role, first the primary, then its fallbacks. */
export function RolesPanel() {
  const roles = useRoles();
  const providers = useProviders();
  const [editing, setEditing] = useState<RoleRoute>();
  const defaultUnset = roles.data?.some((route) => route.role === 'default' && route.models.length === 0);

  return (
    <Stack gap="md">
      <Text size="sm" c="dimmed" maw={720}>
        Services never name a model: they ask for a role, and the router tries its models in order. Changes
        are live from the next request.
      </Text>
      {defaultUnset === true && (
        <Alert color="orange" icon={<IconInfoCircle size={18} />} title="Chat has no model">
          The <Code>default</Code> role has no model, so chat answers fail until it gets one.
        </Alert>
      )}
      <QueryTable query={roles} minWidth={640} verticalSpacing="sm" aria-label="Roles">
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col" w={220}>
              Role
            </Table.Th>
            <Table.Th scope="col">Models, in order</Table.Th>
            <ActionsHeader w={90} />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          <QueryRows query={roles} loading={<SkeletonRows columns={3} rows={9} />}>
            {(route) => (
              <Table.Tr key={route.role}>
                <Table.Th scope="row" fw={400}>
                  <Text size="sm" fw={600} ff="monospace">
                    {route.role}
                  </Text>
                  <Text size="xs" c="dimmed">
                    {ROLE_PURPOSE[route.role] ?? ''}
                  </Text>
                </Table.Th>
                <Table.Td>
                  <RoleModels route={route} providers={providers.data} />
                </Table.Td>
                <Table.Td>
                  <Button
                    variant="light"
                    size="xs"
                    leftSection={<IconPencil size={14} />}
                    aria-label={`Edit role ${route.role}`}
                    onClick={() => {
                      setEditing(route);
                    }}
                  >
                    Edit
                  </Button>
                </Table.Td>
              </Table.Tr>
            )}
          </QueryRows>
        </Table.Tbody>
      </QueryTable>
      <Modal
        opened={editing !== undefined}
        onClose={() => {
          setEditing(undefined);
        }}
        title={editing === undefined ? 'Edit role' : `Edit role ${editing.role}`}
        size="lg"
      >
        {editing !== undefined && (
          <RoleEditor
            key={editing.role}
            route={editing}
            onDone={() => {
              setEditing(undefined);
            }}
          />
        )}
      </Modal>
    </Stack>
  );
}
