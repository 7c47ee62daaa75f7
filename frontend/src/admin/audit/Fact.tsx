import { DataList } from '@mantine/core';
import type { ReactNode } from 'react';

/** One labelled value of a `DataList`; `breakAnywhere` lets an id or hash wrap rather than widen the page. */
export function Fact({
  label,
  mono = false,
  breakAnywhere = false,
  children,
}: {
  label: string;
  mono?: boolean;
  breakAnywhere?: boolean;
  children: ReactNode;
}) {
  return (
    <DataList.Item>
      <DataList.ItemLabel>{label}</DataList.ItemLabel>
      <DataList.ItemValue
        ff={mono ? 'monospace' : undefined}
        style={breakAnywhere ? { wordBreak: 'break-all' } : undefined}
      >
        {children}
      </DataList.ItemValue>
    </DataList.Item>
  );
}
