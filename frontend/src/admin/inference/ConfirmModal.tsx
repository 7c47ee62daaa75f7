import { Modal, Stack } from '@mantine/core';
import type { ReactNode } from 'react';

import { FormActions } from '../FormActions.js';

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
        <FormActions
          error={error}
          pending={pending}
          onCancel={onClose}
          onSubmit={onConfirm}
          submitLabel={confirmLabel}
          submitColor="red"
          submitDisabled={confirmDisabled}
        />
      </Stack>
    </Modal>
  );
}
