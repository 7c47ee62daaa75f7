import { Badge, Group, Text } from '@mantine/core';

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

/** The built-in tools an agent or skill may call, and how many MCP servers bring more. */
export function ToolList({ tools, mcpServers = 0 }: { tools: readonly string[]; mcpServers?: number }) {
  if (tools.length === 0 && mcpServers === 0) {
    return (
      <Text size="sm" c="dimmed">
        None
      </Text>
    );
  }
  return (
    <Group gap={4}>
      {tools.map((tool) => (
        <Badge key={tool} variant="light" color="gray" tt="none" radius="sm">
          {tool}
        </Badge>
      ))}
      {mcpServers > 0 && (
        <Badge variant="light" color="violet" tt="none" radius="sm">
          {mcpServers} MCP {mcpServers === 1 ? 'server' : 'servers'}
        </Badge>
      )}
    </Group>
  );
}
