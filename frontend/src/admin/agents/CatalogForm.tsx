import { Drawer, Radio, Stack } from '@mantine/core';
import { useMediaQuery } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation } from '@tanstack/react-query';
import type { ReactNode } from 'react';

import { apiJson } from '../../api/client.js';
import { useConfirmedMutation, type ConfirmedMutation } from '../use-confirmed-mutation.js';
import { useInvalidateCatalog, VISIBILITIES, type Visibility } from './agents-api.js';

/** The side drawer the agent and skill editors open in; it takes the whole screen on a phone. */
export function CatalogDrawer({
  opened,
  title,
  onClose,
  children,
}: {
  opened: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
}) {
  const phone = useMediaQuery('(max-width: 48em)');
  return (
    <Drawer opened={opened} onClose={onClose} position="right" size={phone ? '100%' : 'xl'} title={title}>
      {children}
    </Drawer>
  );
}

/** Who sees and uses an agent or a skill: a radio per choice, each with what it means. */
export function VisibilityField({
  value,
  onChange,
  disabled,
}: {
  value: Visibility;
  onChange: (next: Visibility) => void;
  disabled?: boolean;
}) {
  return (
    <Radio.Group
      label="Visibility"
      value={value}
      onChange={(picked) => {
        const next = VISIBILITIES.find((option) => option.value === picked)?.value;
        if (next !== undefined) onChange(next);
      }}
    >
      <Stack gap="xs" mt="xs">
        {VISIBILITIES.map((option) => (
          <Radio
            key={option.value}
            value={option.value}
            label={option.label}
            description={option.explanation}
            disabled={disabled}
          />
        ))}
      </Stack>
    </Radio.Group>
  );
}

/** Creates (POST) or changes (PATCH) an agent or skill, says so, and reads the catalog again either way. */
export function useSaveCatalogItem<Body, Saved extends { name: string }>({
  collection,
  item,
  message,
  onDone,
}: {
  collection: string;
  item: { id: string } | undefined;
  message: string;
  onDone: () => void;
}) {
  const invalidate = useInvalidateCatalog();
  return useMutation({
    mutationFn: (body: Body) =>
      item === undefined
        ? apiJson<Saved>(collection, { method: 'POST', body })
        : apiJson<Saved>(`${collection}/${encodeURIComponent(item.id)}`, { method: 'PATCH', body }),
    onSuccess: (saved) => {
      notifications.show({
        color: 'green',
        title: item === undefined ? `Created ${saved.name}` : `Saved ${saved.name}`,
        message,
      });
      onDone();
    },
    onSettled: () => invalidate(),
  });
}

/** Deletes an agent or skill from `collection` once the dialog is confirmed, then reads the catalog again. */
export function useDeleteCatalogItem<T extends { id: string }>(collection: string): ConfirmedMutation<T> {
  const invalidate = useInvalidateCatalog();
  return useConfirmedMutation({
    mutationFn: (item: T) =>
      apiJson<undefined>(`${collection}/${encodeURIComponent(item.id)}`, { method: 'DELETE' }),
    onSettled: () => invalidate(),
  });
}
