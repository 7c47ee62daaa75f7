import { Badge, Text } from '@mantine/core';

import { VISIBILITIES, type Visibility } from './agents-api.js';

const VISIBILITY_COLORS: Readonly<Record<Visibility, string>> = {
  private: 'gray',
  tenant: 'blue',
  managed: 'grape',
};

export function VisibilityBadge({ visibility }: { visibility: Visibility }) {
  const option = VISIBILITIES.find((candidate) => candidate.value === visibility);
  return (
    <Badge
      variant="light"
      color={VISIBILITY_COLORS[visibility]}
      tt="none"
      radius="sm"
      title={option?.explanation}
    >
      {option?.label ?? visibility}
    </Badge>
  );
}

/** Who owns an agent or skill: the admin themself, the platform, or another user by id. */
export function OwnerName({
  ownerId,
  builtIn,
  me,
}: {
  ownerId: string;
  builtIn: boolean;
  me: string | undefined;
}) {
  if (builtIn) {
    return (
      <Text size="sm" c="dimmed">
        aibox
      </Text>
    );
  }
  if (ownerId === me) return <Text size="sm">You</Text>;
  return (
    <Text size="sm" ff="monospace" truncate="end" maw={180} title={ownerId}>
      {ownerId}
    </Text>
  );
}
