import { Button, Group, Modal, Stack, Text } from '@mantine/core';
import { IconPlayerPlay, IconPlayerStop, IconTrash } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';

import {
  allowedActions,
  runSandboxAction,
  sandboxKeys,
  type Sandbox,
  type SandboxAction,
} from './sandbox-api.js';

/**
 * Stop / Start / Delete for one sandbox. The answer (the sandbox in its new state) goes straight into the
 * caches so the badge changes at once; the list is then read again for what converges later.
 */
export function useSandboxAction(onOutcome: (error: unknown) => void) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ id, action }: { id: string; action: SandboxAction }) => runSandboxAction(id, action),
    onSuccess: (sandbox) => {
      client.setQueryData<readonly Sandbox[]>(sandboxKeys.list, (list) =>
        list?.map((row) => (row.id === sandbox.id ? sandbox : row)),
      );
      client.setQueryData<Sandbox>(sandboxKeys.one(sandbox.id), sandbox);
      void client.invalidateQueries({ queryKey: sandboxKeys.list });
      onOutcome(undefined);
    },
    onError: onOutcome,
  });
}

/** The actions a state allows; the one slot for Stop/Start keeps the row from jumping when the state flips. */
export function SandboxActions({
  sandbox,
  onOutcome,
  size = 'compact-sm',
}: {
  sandbox: Sandbox;
  /** Told of each action's end: the error when it failed, undefined when it worked. */
  onOutcome: (error: unknown) => void;
  size?: 'compact-sm' | 'sm';
}) {
  const action = useSandboxAction(onOutcome);
  const [confirming, setConfirming] = useState(false);
  const allowed = allowedActions(sandbox.state);
  const pending = action.isPending ? action.variables.action : undefined;
  const label = sandbox.name !== '' ? sandbox.name : sandbox.id;
  const run = (next: SandboxAction) => {
    action.mutate({ id: sandbox.id, action: next });
  };
  return (
    <>
      <Group gap={6} wrap="nowrap">
        {sandbox.state === 'stopped' ? (
          <Button
            size={size}
            variant="light"
            leftSection={<IconPlayerPlay size={14} />}
            loading={pending === 'start'}
            disabled={action.isPending}
            aria-label={`Start ${label}`}
            onClick={() => {
              run('start');
            }}
          >
            Start
          </Button>
        ) : (
          <Button
            size={size}
            variant="light"
            color="gray"
            leftSection={<IconPlayerStop size={14} />}
            loading={pending === 'stop'}
            disabled={!allowed.stop || action.isPending}
            aria-label={`Stop ${label}`}
            onClick={() => {
              run('stop');
            }}
          >
            Stop
          </Button>
        )}
        <Button
          size={size}
          variant="subtle"
          color="red"
          leftSection={<IconTrash size={14} />}
          loading={pending === 'delete'}
          disabled={!allowed.delete || action.isPending}
          aria-label={`Delete ${label}`}
          onClick={() => {
            setConfirming(true);
          }}
        >
          Delete
        </Button>
      </Group>
      <Modal
        opened={confirming}
        onClose={() => {
          setConfirming(false);
        }}
        title={`Delete ${label}?`}
        centered
      >
        <Stack>
          <Text size="sm">
            Every program running in it is killed and its workspace is removed. Artifacts copied out of it
            stay downloadable.
          </Text>
          <Group justify="flex-end">
            <Button
              variant="default"
              onClick={() => {
                setConfirming(false);
              }}
            >
              Cancel
            </Button>
            <Button
              color="red"
              onClick={() => {
                setConfirming(false);
                run('delete');
              }}
            >
              Delete sandbox
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
