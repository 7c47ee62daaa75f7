import { ActionIcon, Tooltip, type ActionIconProps } from '@mantine/core';
import type { ReactNode } from 'react';

/** An icon-only button and its tooltip; rows pass a fuller `aria-label` so each row's button has its own name. */
export function TooltipActionIcon({
  label,
  'aria-label': ariaLabel = label,
  withArrow,
  variant = 'subtle',
  onClick,
  children,
  ...props
}: Omit<ActionIconProps, 'children'> & {
  label: string;
  'aria-label'?: string;
  withArrow?: boolean;
  onClick: () => void;
  children: ReactNode;
}) {
  return (
    <Tooltip label={label} withArrow={withArrow}>
      <ActionIcon {...props} variant={variant} aria-label={ariaLabel} onClick={onClick}>
        {children}
      </ActionIcon>
    </Tooltip>
  );
}
