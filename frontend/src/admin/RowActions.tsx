import { Group, Table, VisuallyHidden } from '@mantine/core';
import { IconEye, IconPencil, IconTrash } from '@tabler/icons-react';

import { TooltipActionIcon } from './TooltipActionIcon.js';

/** The header cell over each row's buttons: named for screen readers only. */
export function ActionsHeader({ w }: { w?: number }) {
  return (
    <Table.Th scope="col" w={w}>
      <VisuallyHidden>Actions</VisuallyHidden>
    </Table.Th>
  );
}

/** A row's Edit (View when read-only) and Delete buttons, each named with `item` for screen readers. */
export function RowActions({
  item,
  readOnly = false,
  onEdit,
  onDelete,
  deleteLabel = 'Delete',
}: {
  item: string;
  readOnly?: boolean;
  onEdit: () => void;
  onDelete?: (() => void) | undefined;
  deleteLabel?: string;
}) {
  return (
    <Table.Td>
      <Group gap={4} wrap="nowrap" justify="flex-end">
        <TooltipActionIcon
          label={readOnly ? 'View (read-only)' : 'Edit'}
          aria-label={`${readOnly ? 'View' : 'Edit'} ${item}`}
          onClick={onEdit}
        >
          {readOnly ? <IconEye size={18} /> : <IconPencil size={18} />}
        </TooltipActionIcon>
        {onDelete !== undefined && (
          <TooltipActionIcon
            label={deleteLabel}
            color="red"
            aria-label={`${deleteLabel} ${item}`}
            onClick={onDelete}
          >
            <IconTrash size={18} />
          </TooltipActionIcon>
        )}
      </Group>
    </Table.Td>
  );
}
