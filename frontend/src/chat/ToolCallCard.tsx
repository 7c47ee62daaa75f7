import { Badge, Box, Collapse, Group, Loader, Paper, Text, UnstyledButton } from '@mantine/core';
import { IconChevronRight, IconTool } from '@tabler/icons-react';
import { useId, useState } from 'react';

import { ApprovalCard, prettyJson } from './ApprovalCard.js';
import classes from './chat.module.css';
import type { ToolCallPart } from './turn-stream.js';

function statusOf(part: ToolCallPart, running: boolean): { label: string; color: string; busy?: boolean } {
  const { result, approval } = part;
  if (result !== undefined) {
    if (result.code === 'tool_denied') return { label: 'Denied', color: 'red' };
    if (result.ok === true) return { label: 'Done', color: 'green' };
    if (result.ok === false)
      return { label: result.code === undefined ? 'Failed' : `Failed: ${result.code}`, color: 'red' };
    return { label: 'Finished', color: 'gray' };
  }
  if (approval !== undefined && approval.decision === undefined)
    return { label: 'Waiting for approval', color: 'yellow' };
  if (running) return { label: 'Running', color: 'blue', busy: true };
  return { label: 'No result', color: 'gray' };
}

/**
 * A tool call inside an answer: its name and state in one line; the arguments and the result behind a
 * disclosure button, collapsed at first. An approval it waits for stays in view.
 */
export function ToolCallCard({ part, running }: { part: ToolCallPart; running: boolean }) {
  const [expanded, setExpanded] = useState(false);
  const panelId = useId();
  const status = statusOf(part, running);
  const name = part.name === '' ? 'tool' : part.name;
  return (
    <Paper withBorder radius="md" my="xs" p={2}>
      <UnstyledButton
        className={classes.toolHeader}
        aria-expanded={expanded}
        aria-controls={panelId}
        onClick={() => {
          setExpanded((open) => !open);
        }}
      >
        <Group gap="xs" wrap="nowrap">
          <IconChevronRight
            size={16}
            aria-hidden
            style={{
              transform: expanded ? 'rotate(90deg)' : undefined,
              transition: 'transform 120ms ease',
              flex: 'none',
            }}
          />
          <IconTool size={16} aria-hidden style={{ flex: 'none' }} />
          <Text size="sm" ff="monospace" truncate="end" style={{ flex: 1, minWidth: 0 }}>
            {name}
          </Text>
          <Badge
            variant="light"
            color={status.color}
            size="sm"
            leftSection={status.busy === true ? <Loader size={10} color={status.color} /> : undefined}
            style={{ flex: 'none', textTransform: 'none' }}
          >
            {status.label}
          </Badge>
        </Group>
      </UnstyledButton>
      <Collapse expanded={expanded} id={panelId} keepMounted={false}>
        <Box px="sm" pb="sm" pt={4}>
          <Text size="xs" c="dimmed" mb={4}>
            Arguments
          </Text>
          <pre className={classes.json}>{prettyJson(part.arguments)}</pre>
          {part.result !== undefined && (
            <>
              <Text size="xs" c="dimmed" mt="xs" mb={4}>
                Result
              </Text>
              <pre className={classes.json}>{part.result.output === '' ? '(empty)' : part.result.output}</pre>
            </>
          )}
        </Box>
      </Collapse>
      {part.approval !== undefined && (
        <Box px="xs">
          <ApprovalCard
            approvalId={part.approval.approvalId}
            tool={name}
            args={part.arguments}
            decision={part.approval.decision}
          />
        </Box>
      )}
    </Paper>
  );
}
