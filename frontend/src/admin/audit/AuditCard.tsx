import { Group, Paper, Stack, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';

/** A bordered section of the audit page: its heading and what it does, an icon or button beside them, its body. */
export function AuditCard({
  titleId,
  title,
  description,
  aside,
  children,
}: {
  titleId: string;
  title: string;
  description: ReactNode;
  aside: ReactNode;
  children: ReactNode;
}) {
  return (
    <Paper withBorder p="md" component="section" aria-labelledby={titleId}>
      <Stack gap="sm">
        <Group justify="space-between" wrap="nowrap" align="flex-start">
          <div>
            <Title order={2} size="h4" id={titleId}>
              {title}
            </Title>
            <Text size="sm" c="dimmed">
              {description}
            </Text>
          </div>
          {aside}
        </Group>
        {children}
      </Stack>
    </Paper>
  );
}
