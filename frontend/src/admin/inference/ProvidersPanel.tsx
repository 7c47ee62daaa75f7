import { Alert, Badge, Button, Code, Group, ScrollArea, Stack, Switch, Table, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconCircleCheck } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';

import { errorCode } from '../../api/ErrorAlert.js';
import { apiJson } from '../../api/client.js';
import { describeError } from '../../api/error-messages.js';
import { PanelIntro } from '../PanelIntro.js';
import { ActionsHeader, RowActions } from '../RowActions.js';
import { EmptyRow, QueryRows, QueryTable, SkeletonRows } from '../TableState.js';
import { useConfirmedMutation, type ConfirmedMutation } from '../use-confirmed-mutation.js';
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
  removal,
  roles,
  onShowRoles,
}: {
  removal: ConfirmedMutation<Provider>;
  roles: readonly RoleRoute[] | undefined;
  onShowRoles: () => void;
}) {
  const name = removal.target?.name ?? '';
  const naming = rolesNaming(name, roles);
  const { error } = removal.dialog;
  const inUse = error !== null && errorCode(error).code === 'provider_in_use';
  return (
    <ConfirmModal
      {...removal.dialog}
      title={`Delete provider ${name}?`}
      confirmLabel="Delete"
      confirmDisabled={naming.length > 0}
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
              removal.dialog.onClose();
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
  const invalidate = useInvalidateInference();
  const [form, setForm] = useState<{ provider: Provider | undefined } | undefined>();
  const remove = useConfirmedMutation({
    mutationFn: (provider: Provider) =>
      apiJson<undefined>(`${INFERENCE_API}/providers/${encodeURIComponent(provider.name)}`, {
        method: 'DELETE',
      }),
    onSettled: () => invalidate(),
  });
  const [registered, setRegistered] = useState<RegisteredProvider>();

  const inUseCount = (name: string) =>
    new Set((roles.data ?? []).flatMap((role) => role.models.filter((model) => providerOf(model) === name)))
      .size;

  return (
    <Stack gap="md">
      <PanelIntro
        addLabel="Add provider"
        onAdd={() => {
          setForm({ provider: undefined });
        }}
      >
        OpenAI-compatible endpoints the router can call. Before saving, the router asks each for its model
        list; keys are stored encrypted and only ever shown as a hint.
      </PanelIntro>

      {registered !== undefined && (
        <ProbeResult
          provider={registered}
          onShowRoles={onShowRoles}
          onDismiss={() => {
            setRegistered(undefined);
          }}
        />
      )}
      <QueryTable
        query={providers}
        minWidth={760}
        verticalSpacing="sm"
        highlightOnHover
        aria-label="Providers"
      >
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">Name</Table.Th>
            <Table.Th scope="col">Kind</Table.Th>
            <Table.Th scope="col">Base URL</Table.Th>
            <Table.Th scope="col">API key</Table.Th>
            <Table.Th scope="col">Models</Table.Th>
            <Table.Th scope="col">Enabled</Table.Th>
            <ActionsHeader />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          <QueryRows
            query={providers}
            loading={<SkeletonRows columns={COLUMNS} />}
            empty={
              <EmptyRow columns={COLUMNS}>
                No provider yet. Add one — an OpenAI account, Ollama or any OpenAI-compatible server.
              </EmptyRow>
            }
          >
            {(provider) => {
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
                  <RowActions
                    item={`provider ${provider.name}`}
                    onEdit={() => {
                      setForm({ provider });
                    }}
                    onDelete={() => {
                      remove.ask(provider);
                    }}
                  />
                </Table.Tr>
              );
            }}
          </QueryRows>
        </Table.Tbody>
      </QueryTable>

      <ProviderFormModal
        opened={form !== undefined}
        provider={form?.provider}
        onRegistered={setRegistered}
        onClose={() => {
          setForm(undefined);
        }}
      />
      <DeleteProviderModal removal={remove} roles={roles.data} onShowRoles={onShowRoles} />
    </Stack>
  );
}
