import { Checkbox, Modal, NativeSelect, PasswordInput, Stack, Switch, Text, TextInput } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useMutation } from '@tanstack/react-query';
import { useState, type SubmitEvent } from 'react';

import { apiJson } from '../../api/client.js';
import { FormActions } from '../FormActions.js';
import {
  INFERENCE_API,
  PROVIDER_KINDS,
  useInvalidateInference,
  useProbedModels,
  type Provider,
  type ProviderKind,
  type RegisteredProvider,
} from './inference-api.js';

const PROVIDER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

interface CreateBody {
  name: string;
  kind: ProviderKind;
  base_url: string;
  api_key?: string;
  enabled: boolean;
}

interface PatchBody {
  kind?: ProviderKind;
  base_url?: string;
  api_key?: string | null;
  enabled?: boolean;
}

/**
 * Adds or changes a provider. The router probes `GET {base_url}/models` before it saves, so a refusal comes back
 * as the form's error and the form keeps what was typed; a success shows what the probe listed.
 */
function ProviderForm({
  provider,
  onRegistered,
  onDone,
}: {
  provider: Provider | undefined;
  onRegistered: (registered: RegisteredProvider) => void;
  onDone: () => void;
}) {
  const invalidate = useInvalidateInference();
  const { remember } = useProbedModels();
  const [name, setName] = useState(provider?.name ?? '');
  const [kind, setKind] = useState<ProviderKind>(provider?.kind ?? 'chat_completions');
  const [baseUrl, setBaseUrl] = useState(provider?.base_url ?? '');
  const [apiKey, setApiKey] = useState('');
  const [removeKey, setRemoveKey] = useState(false);
  const [enabled, setEnabled] = useState(provider?.enabled ?? true);
  const [checked, setChecked] = useState(false);

  const create = useMutation({
    mutationFn: (body: CreateBody) =>
      apiJson<RegisteredProvider>(`${INFERENCE_API}/providers`, { method: 'POST', body }),
    onSuccess: (answer) => {
      remember(answer.name, answer.models);
      // The key leaves the page with the form once the router holds it: from here on only its hint is shown.
      onRegistered(answer);
    },
    onSettled: () => invalidate(),
  });
  const update = useMutation({
    mutationFn: ({ target, body }: { target: string; body: PatchBody }) =>
      apiJson<Provider>(`${INFERENCE_API}/providers/${encodeURIComponent(target)}`, {
        method: 'PATCH',
        body,
      }),
    onSuccess: (answer, { body }) => {
      notifications.show({
        color: 'green',
        title: `Saved ${answer.name}`,
        message:
          body.base_url !== undefined || typeof body.api_key === 'string'
            ? 'The router checked the provider again and it answered.'
            : 'The change is live.',
      });
      onDone();
    },
    onSettled: () => invalidate(),
  });
  const mutation = provider === undefined ? create : update;

  const nameError =
    provider === undefined && checked && !PROVIDER_NAME.test(name)
      ? 'Use 1–63 of a–z, 0–9, _ and -, starting with a letter or digit'
      : undefined;
  const urlError =
    checked && baseUrl.trim() === '' ? 'Enter the URL of its OpenAI-compatible API' : undefined;

  function submit(event: SubmitEvent) {
    event.preventDefault();
    setChecked(true);
    if (baseUrl.trim() === '' || (provider === undefined && !PROVIDER_NAME.test(name))) return;
    if (provider === undefined) {
      create.mutate({
        name,
        kind,
        base_url: baseUrl.trim(),
        ...(apiKey === '' ? {} : { api_key: apiKey }),
        enabled,
      });
      return;
    }
    const body: PatchBody = {
      ...(kind === provider.kind ? {} : { kind }),
      ...(baseUrl.trim() === provider.base_url ? {} : { base_url: baseUrl.trim() }),
      ...(apiKey !== '' ? { api_key: apiKey } : removeKey ? { api_key: null } : {}),
      ...(enabled === provider.enabled ? {} : { enabled }),
    };
    if (Object.keys(body).length === 0) {
      onDone();
      return;
    }
    update.mutate({ target: provider.name, body });
  }

  const keyDescription =
    provider === undefined
      ? 'Stored encrypted; afterwards only its hint is shown. Leave empty for a local server without a key.'
      : provider.key_hint === null
        ? 'No key is stored. Leave empty to keep it that way.'
        : `The stored key is ${provider.key_hint}. Leave empty to keep it.`;

  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="sm">
        <TextInput
          label="Name"
          description={
            provider === undefined
              ? 'Roles name models as <name>/<model>; it cannot be changed later.'
              : undefined
          }
          value={name}
          onChange={(event) => {
            setName(event.currentTarget.value);
          }}
          readOnly={provider !== undefined}
          required
          withAsterisk={false}
          autoComplete="off"
          spellCheck={false}
          error={nameError}
          data-autofocus={provider === undefined ? true : undefined}
        />
        <NativeSelect
          label="Kind"
          description="The API it speaks; the router translates between the two."
          data={PROVIDER_KINDS.map((option) => ({ value: option.value, label: option.label }))}
          value={kind}
          onChange={(event) => {
            setKind(event.currentTarget.value as ProviderKind);
          }}
        />
        <TextInput
          label="Base URL"
          placeholder="https://api.openai.com/v1"
          description="Where its /models and /chat/completions live. The router never follows redirects."
          value={baseUrl}
          onChange={(event) => {
            setBaseUrl(event.currentTarget.value);
          }}
          required
          withAsterisk={false}
          type="url"
          inputMode="url"
          autoComplete="off"
          spellCheck={false}
          error={urlError}
          data-autofocus={provider !== undefined ? true : undefined}
        />
        <PasswordInput
          label="API key"
          description={keyDescription}
          value={apiKey}
          onChange={(event) => {
            setApiKey(event.currentTarget.value);
          }}
          autoComplete="new-password"
          disabled={removeKey}
        />
        {provider !== undefined && provider.key_hint !== null && (
          <Checkbox
            label="Remove the stored key"
            checked={removeKey}
            onChange={(event) => {
              setRemoveKey(event.currentTarget.checked);
              if (event.currentTarget.checked) setApiKey('');
            }}
          />
        )}
        <Switch
          label="Enabled"
          description="A disabled provider is skipped by every role."
          checked={enabled}
          onChange={(event) => {
            setEnabled(event.currentTarget.checked);
          }}
        />
        {mutation.isPending && (
          <Text size="sm" c="dimmed" role="status">
            The router is asking the provider for its models…
          </Text>
        )}
        <FormActions error={mutation.error} pending={mutation.isPending} onCancel={onDone} mt="xs" />
      </Stack>
    </form>
  );
}

/**
 * The add / edit dialog; a fresh form each time it opens. A registration closes it and hands the probe's answer
 * to the page, which shows the models beside the providers table.
 */
export function ProviderFormModal({
  opened,
  provider,
  onRegistered,
  onClose,
}: {
  opened: boolean;
  provider: Provider | undefined;
  onRegistered: (registered: RegisteredProvider) => void;
  onClose: () => void;
}) {
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={provider === undefined ? 'Add provider' : `Edit provider ${provider.name}`}
      size="lg"
    >
      {opened && (
        <ProviderForm
          key={provider?.name ?? 'new'}
          provider={provider}
          onRegistered={(registered) => {
            onClose();
            onRegistered(registered);
          }}
          onDone={onClose}
        />
      )}
    </Modal>
  );
}
