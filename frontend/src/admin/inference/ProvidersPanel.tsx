import {
  ActionIcon,
  Alert,
  Badge,
  Button,
  Code,
  Group,
  ScrollArea,
  Stack,
  Switch,
  Table,
  Text,
  Tooltip,
  VisuallyHidden,
} from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconCircleCheck, IconPencil, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';

import { errorCode, ErrorAlert } from '../../api/ErrorAlert.js';
import { apiJson } from '../../api/client.js';
import { describeError } from '../../api/error-messages.js';
import { ConfirmModal } from './ConfirmModal.js';
import {
  INFERENCE_API,
  PROVIDER_KINDS,
  providerOf,
  useInvalidateInference,
  useProbedModels,
  useProviders,
  useRoles,
  type Provider,
  type RegisteredProvider,
  type RoleRoute,
} from './inference-api.js';
import { ProviderFormModal } from './ProviderFormModal.js';
import { SkeletonRows } from './SkeletonRows.js';

const COLUMNS = 7;

function kindLabel(kind: Provider['kind']): string {
  return PROVIDER_KINDS.find((option) => option.value === kind)?.label ?? kind;
}

/** The roles that route to a provider: a provider they name cannot be deleted. */
function rolesNaming(provider: string, roles: readonly RoleRoute[] | undefined): string[] {
  return (roles ?? [])
    .filter((role) => role.models.some((model) => providerOf(model) === provider))
    .map((role) => role.role);
}

function EnabledSwitch({ provider }: { provider: Provider }) {
  const invalidate = useInvalidateInference();
  const toggle = useMutation({
    mutationFn: (enabled: boolean) =>
      apiJson<Provider>(`${INFERENCE_API}/providers/${encodeURIComponent(provider.name)}`, {
        method: 'PATCH',
        body: { enabled },
      }),
    onError: (error) => {
      const { code, message } = errorCode(error);
      const description = describeError(code, message);
      notifications.show({ color: 'red', title: description.title, message: description.message });
    },
    onSettled: () => invalidate(),
  });
  const checked = toggle.isPending ? toggle.variables : provider.enabled;
  return (
    <Switch
      aria-label={`Enabled: ${provider.name}`}
      checked={checked}
      disabled={toggle.isPending}
      onChange={(event) => {
        toggle.mutate(event.currentTarget.checked);
      }}
    />
  );
}

/** What the router's probe found when a provider was added: the models roles can now route to. */
function ProbeResult({
  provider,
  onShowRoles,
  onDismiss,
}: {
  provider: RegisteredProvider;
  onShowRoles: () => void;
  onDismiss: () => void;
}) {
  const count = provider.models.length;
  const listId = `probed-models-${provider.name}`;
  return (
    <Alert
      color="green"
      title={`Provider ${provider.name} saved`}
      icon={<IconCircleCheck size={18} />}
      withCloseButton
      closeButtonLabel="Dismiss"
      onClose={onDismiss}
    >
      <Stack gap="xs">
        <Text size="sm">
          The router reached it{provider.key_hint === null ? '' : ` with the key ${provider.key_hint}`} and it
          listed {count} {count === 1 ? 'model' : 'models'}.
          {count === 0 && ' You can still type model names into a role.'}
        </Text>
        {count > 0 && (
          <>
            <Text size="sm" fw={500} id={listId}>
              Models it listed
            </Text>
            <ScrollArea.Autosize mah={160} type="auto">
              <Group
                component="ul"
                gap={6}
                aria-labelledby={listId}
                m={0}
                p={0}
                style={{ listStyle: 'none' }}
              >
                {provider.models.map((model) => (
                  <li key={model}>
                    <Code>{model}</Code>
                  </li>
                ))}
              </Group>
            </ScrollArea.Autosize>
          </>
        )}
        <Group>
          <Button size="xs" color="green" onClick={onShowRoles}>
            Assign to roles
          </Button>
        </Group>
      </Stack>
    </Alert>
  );
}

function DeleteProviderModal({
  provider,
  roles,
  onShowRoles,
  onClose,
}: {
  provider: Provider | undefined;
  roles: readonly RoleRoute[] | undefined;
  onShowRoles: () => void;
  onClose: () => void;
}) {
  const invalidate = useInvalidateInference();
  const remove = useMutation({
    mutationFn: (name: string) =>
      apiJson<undefined>(`${INFERENCE_API}/providers/${encodeURIComponent(name)}`, { method: 'DELETE' }),
    onSuccess: () => {
      onClose();
    },
    onSettled: () => invalidate(),
  });
  const name = provider?.name ?? '';
  const naming = rolesNaming(name, roles);
  const inUse = remove.error !== null && errorCode(remove.error).code === 'provider_in_use';
  return (
    <ConfirmModal
      opened={provider !== undefined}
      title={`Delete provider ${name}?`}
      confirmLabel="Delete"
      pending={remove.isPending}
      confirmDisabled={naming.length > 0}
      error={remove.error}
      onConfirm={() => {
        remove.mutate(name);
      }}
      onClose={() => {
        remove.reset();
        onClose();
      }}
    >
      <Text size="sm">
        Its stored key is deleted with it. A provider that a role still routes to cannot be deleted.
      </Text>
      {(inUse || naming.length > 0) && (
        <Stack gap="xs" align="flex-start">
          {naming.length > 0 && (
            <Text size="sm">
              It is used by {naming.length === 1 ? 'the role' : 'the roles'}{' '}
              <strong>{naming.join(', ')}</strong>: pick other models for{' '}
              {naming.length === 1 ? 'it' : 'them'} first.
            </Text>
          )}
          <Button
            variant="light"
            size="xs"
            onClick={() => {
              remove.reset();
              onClose();
              onShowRoles();
            }}
          >
            Go to Roles
          </Button>
        </Stack>
      )}
    </ConfirmModal>
  );
}

/** The providers tab: registered OpenAI-compatible endpoints, their keys as hints only. */
export function ProvidersPanel({ onShowRoles }: { onShowRoles: () => void }) {
  const providers = useProviders();
  const roles = useRoles();
  const { probed } = useProbedModels();
  const [form, setForm] = useState<{ provider: Provider | undefined } | undefined>();
  const [deleting, setDeleting] = useState<Provider>();
  const [registered, setRegistered] = useState<RegisteredProvider>();

  const inUseCount = (name: string) =>
    new Set((roles.data ?? []).flatMap((role) => role.models.filter((model) => providerOf(model) === name)))
      .size;

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-end" wrap="wrap" gap="sm">
        <Text size="sm" c="dimmed" maw={640}>
          OpenAI-compatible endpoints the router can call. Before saving, the router asks each for its model
          list; keys are stored encrypted and only ever shown as a hint.
        </Text>
        <Button
          leftSection={<IconPlus size={16} />}
          onClick={() => {
            setForm({ provider: undefined });
          }}
        >
          Add provider
        </Button>
      </Group>

      {registered !== undefined && (
        <ProbeResult
          provider={registered}
          onShowRoles={onShowRoles}
          onDismiss={() => {
            setRegistered(undefined);
          }}
        />
      )}
      {providers.isError ? (
        <ErrorAlert error={providers.error} onRetry={() => void providers.refetch()} />
      ) : (
        <Table.ScrollContainer minWidth={760}>
          <Table verticalSpacing="sm" highlightOnHover aria-label="Providers">
            <Table.Thead>
              <Table.Tr>
                <Table.Th scope="col">Name</Table.Th>
                <Table.Th scope="col">Kind</Table.Th>
                <Table.Th scope="col">Base URL</Table.Th>
                <Table.Th scope="col">API key</Table.Th>
                <Table.Th scope="col">Models</Table.Th>
                <Table.Th scope="col">Enabled</Table.Th>
                <Table.Th scope="col">
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {providers.isPending ? (
                <SkeletonRows columns={COLUMNS} />
              ) : providers.data.length === 0 ? (
                <Table.Tr>
                  <Table.Td colSpan={COLUMNS}>
                    <Text size="sm" c="dimmed" ta="center" py="lg">
                      No provider yet. Add one — an OpenAI account, Ollama or any OpenAI-compatible server.
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ) : (
                providers.data.map((provider) => {
                  const listed = probed[provider.name];
                  return (
                    <Table.Tr key={provider.name}>
                      <Table.Th scope="row" fw={600}>
                        {provider.name}
                      </Table.Th>
                      <Table.Td>
                        <Badge variant="light" color="gray" radius="sm" tt="none">
                          {kindLabel(provider.kind)}
                        </Badge>
                      </Table.Td>
                      <Table.Td maw={280}>
                        <Text size="sm" ff="monospace" truncate="end" title={provider.base_url}>
                          {provider.base_url}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        {provider.key_hint === null ? (
                          <Text size="sm" c="dimmed">
                            None
                          </Text>
                        ) : (
                          <Code>{provider.key_hint}</Code>
                        )}
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm">
                          {inUseCount(provider.name)} in roles
                          {listed !== undefined && (
                            <Text span size="sm" c="dimmed">
                              {' '}
                              · {listed.length} listed
                            </Text>
                          )}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <EnabledSwitch provider={provider} />
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap" justify="flex-end">
                          <Tooltip label="Edit">
                            <ActionIcon
                              variant="subtle"
                              aria-label={`Edit provider ${provider.name}`}
                              onClick={() => {
                                setForm({ provider });
                              }}
                            >
                              <IconPencil size={18} />
                            </ActionIcon>
                          </Tooltip>
                          <Tooltip label="Delete">
                            <ActionIcon
                              variant="subtle"
                              color="red"
                              aria-label={`Delete provider ${provider.name}`}
                              onClick={() => {
                                setDeleting(provider);
                              }}
                            >
                              <IconTrash size={18} />
                            </ActionIcon>
                          </Tooltip>
                        </Group>
                      </Table.Td>
                    </Table.Tr>
                  );
                })
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}

      <ProviderFormModal
        opened={form !== undefined}
        provider={form?.provider}
        onRegistered={setRegistered}
        onClose={() => {
          setForm(undefined);
        }}
      />
      <DeleteProviderModal
        provider={deleting}
        roles={roles.data}
        onShowRoles={onShowRoles}
        onClose={() => {
          setDeleting(undefined);
        }}
      />
    </Stack>
  );
}
