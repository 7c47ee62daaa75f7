import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';

export interface ConfirmedMutation<T> {
  /** What the open dialog asks about; undefined while it is closed. */
  readonly target: T | undefined;
  readonly ask: (target: T) => void;
  /** The state and handlers a `ConfirmModal` takes. */
  readonly dialog: {
    readonly opened: boolean;
    readonly pending: boolean;
    readonly error: unknown;
    readonly onConfirm: () => void;
    readonly onClose: () => void;
  };
}

/** A destructive mutation asked once more; closing the dialog clears a refusal so the next target starts clean. */
export function useConfirmedMutation<T>({
  mutationFn,
  onSettled,
}: {
  mutationFn: (target: T) => Promise<unknown>;
  onSettled: () => unknown;
}): ConfirmedMutation<T> {
  const [target, setTarget] = useState<T>();
  const mutation = useMutation({
    mutationFn,
    onSuccess: () => {
      setTarget(undefined);
    },
    onSettled,
  });
  return {
    target,
    ask: (next: T) => {
      setTarget(next);
    },
    dialog: {
      opened: target !== undefined,
      pending: mutation.isPending,
      error: mutation.error,
      onConfirm: () => {
        if (target !== undefined) mutation.mutate(target);
      },
      onClose: () => {
        mutation.reset();
        setTarget(undefined);
      },
    },
  };
}
