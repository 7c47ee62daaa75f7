import { Badge, Loader } from '@mantine/core';

import { isTransitional, stateColor, type SandboxState } from './sandbox-api.js';

/**
 * A sandbox's state in its colour. The current state carries a spinner while it is still converging; a state
 * from the event history (`historic`) does not, since it has long moved on.
 */
export function SandboxStateBadge({ state, historic = false }: { state: SandboxState; historic?: boolean }) {
  const converging = !historic && isTransitional(state);
  return (
    <Badge
      variant="light"
      color={stateColor(state)}
      style={{ minWidth: 'max-content' }}
      leftSection={converging ? <Loader size={10} color={stateColor(state)} aria-hidden /> : undefined}
    >
      {state}
    </Badge>
  );
}
