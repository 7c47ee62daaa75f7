import { Button, Group, Modal, Stack } from '@mantine/core';
import type { ReactNode } from 'react';

import { ErrorAlert } from '../../api/ErrorAlert.js';

/** A destructive action asked once more, with the server's refusal shown in place when it comes. */
export function ConfirmModal({
  opened,
  title,
  children,
  confirmLabel,
  pending,
  confirmDisabled = false,
  error,
  onConfirm,
  onClose,
}: {
  opened: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  pending: boolean;
  /** When the page already knows the server would refuse. */
  confirmDisabled?: boolean;
  error: unknown;
  onConfirm: () => void;
  onClose: () => void;
}) {
  return (
    <Modal opened={opened} onClose={onClose} title={title} centered>
      <Stack gap="md">
        {children}
        {error !== null && error !== undefined && <ErrorAlert error={error} />}
        <Group justify="flex-end" gap="sm">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button color="red" loading={pending} disabled={confirmDisabled} onClick={onConfirm}>
            {confirmLabel}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
