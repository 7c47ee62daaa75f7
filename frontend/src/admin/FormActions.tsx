import { Button, Group, type MantineColor, type MantineSpacing } from '@mantine/core';

import { ErrorAlert } from '../api/ErrorAlert.js';

/** A form's last row: the refusal in place, Cancel, and Save (a submit button unless `onSubmit` is given). */
export function FormActions({
  error,
  pending,
  onCancel,
  onSubmit,
  submitLabel = 'Save',
  submitColor,
  submitDisabled,
  readOnly = false,
  mt,
}: {
  error: unknown;
  pending: boolean;
  onCancel: () => void;
  onSubmit?: () => void;
  submitLabel?: string;
  submitColor?: MantineColor;
  submitDisabled?: boolean;
  readOnly?: boolean;
  mt?: MantineSpacing;
}) {
  return (
    <>
      {error !== null && error !== undefined && <ErrorAlert error={error} />}
      <Group justify="flex-end" gap="sm" mt={mt}>
        <Button variant="default" onClick={onCancel}>
          {readOnly ? 'Close' : 'Cancel'}
        </Button>
        {!readOnly && (
          <Button
            type={onSubmit === undefined ? 'submit' : 'button'}
            color={submitColor}
            loading={pending}
            disabled={submitDisabled}
            onClick={onSubmit}
          >
            {submitLabel}
          </Button>
        )}
      </Group>
    </>
  );
}
