import { Skeleton, Table, Text, type TextProps } from '@mantine/core';
import type { ComponentPropsWithoutRef, ReactNode } from 'react';

import { QueryError } from './QueryError.js';

/** Placeholder rows the height of real ones, so a table does not jump when its data arrives. */
export function SkeletonRows({
  rows = 3,
  columns,
  height = 20,
}: {
  rows?: number;
  columns: number;
  height?: number;
}) {
  return (
    <>
      {Array.from({ length: rows }, (_, row) => (
        <Table.Tr key={row} aria-hidden>
          {Array.from({ length: columns }, (_, column) => (
            <Table.Td key={column}>
              <Skeleton height={height} radius="sm" />
            </Table.Td>
          ))}
        </Table.Tr>
      ))}
    </>
  );
}

/** The one row of a table with nothing to list: a sentence across every column. */
export function EmptyRow({
  columns,
  children,
  size = 'sm',
  py = 'lg',
}: Pick<TextProps, 'size' | 'py'> & { columns: number; children: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Td colSpan={columns}>
        <Text size={size} c="dimmed" ta="center" py={py}>
          {children}
        </Text>
      </Table.Td>
    </Table.Tr>
  );
}

/** A list query's rows: `loading` until the first answer, `empty` for an empty one, else a row per item. */
export function QueryRows<T>({
  query,
  loading,
  empty,
  children,
}: {
  query: { isPending: boolean; isSuccess: boolean; data: readonly T[] | undefined };
  loading: ReactNode;
  empty?: ReactNode;
  children: (row: T) => ReactNode;
}) {
  if (query.isPending) return loading;
  const rows = query.data ?? [];
  if (query.isSuccess && rows.length === 0) return empty;
  return rows.map((row) => children(row));
}

/** A list query's table, scrolling sideways below `minWidth`; in its place, why the query failed. */
export function QueryTable({
  query,
  minWidth,
  children,
  ...tableProps
}: ComponentPropsWithoutRef<typeof Table> & {
  query: { isError: boolean; error: unknown; refetch: () => Promise<unknown> };
  minWidth: number;
}) {
  if (query.isError) return <QueryError query={query} />;
  return (
    <Table.ScrollContainer minWidth={minWidth}>
      <Table {...tableProps}>{children}</Table>
    </Table.ScrollContainer>
  );
}
