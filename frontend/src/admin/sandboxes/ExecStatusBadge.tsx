import { Badge } from '@mantine/core';

import type { Exec } from './sandbox-api.js';

function colorOf(exec: Exec): string {
  switch (exec.status) {
    case 'running':
      return 'blue';
    case 'exited':
      return exec.exit_code === 0 ? 'green' : 'orange';
    case 'cancelled':
      return 'gray';
    case 'timed_out':
      return 'orange';
    case 'lost':
      return 'red';
  }
}

/** An exec's status in words and colour (a non-zero exit is not a success). */
export function ExecStatusBadge({ exec }: { exec: Exec }) {
  return (
    <Badge variant="light" color={colorOf(exec)} style={{ flexShrink: 0, minWidth: 'max-content' }}>
      {exec.status.replace('_', ' ')}
    </Badge>
  );
}
