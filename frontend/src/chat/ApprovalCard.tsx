import { Badge, Box, Button, Group, Paper, Text } from '@mantine/core';
import { IconShieldQuestion } from '@tabler/icons-react';
import { useMutation, useQueryClient } from '@tanstack/react-query';

import { ApiError } from '../api/api-error.js';
import { ErrorAlert } from '../api/ErrorAlert.js';
import { chatKeys, decideApproval, type ApprovalStatus } from './chat-api.js';
import classes from './chat.module.css';
import type { ApprovalDecision } from './turn-stream.js';

/** Arguments as indented JSON when they are JSON, as written otherwise. */
export function prettyJson(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value, null, 2);
  if (value.trim() === '') return '{}';
  try {
    return JSON.stringify(JSON.parse(value), null, 2);
  } catch {
    return value;
  }
}

const DECISION_LABEL: Readonly<Record<ApprovalDecision, { label: string; color: string }>> = {
  approved: { label: 'Approved', color: 'green' },
  denied: { label: 'Denied', color: 'red' },
  expired: { label: 'Expired', color: 'gray' },
  cancelled: { label: 'Cancelled', color: 'gray' },
};

function decisionOf(status: ApprovalStatus): ApprovalDecision | undefined {
  return status === 'pending' ? undefined : status;
}

/**
 * A tool call that waits for the user: what would run, with Approve and Deny. The decision shows once the
 * stream reports it or the decision request answers, whichever comes first.
 */
export function ApprovalCard({
  approvalId,
  tool,
  args,
  decision,
}: {
  approvalId: string;
  tool: string;
  args: unknown;
  /** The decision the stream reported, if any. */
  decision?: ApprovalDecision | undefined;
}) {
  const queryClient = useQueryClient();
  const decide = useMutation({
    mutationFn: (choice: 'approve' | 'deny') => decideApproval(approvalId, choice),
    onSettled: () => queryClient.invalidateQueries({ queryKey: chatKeys.approvals }),
  });
  const shown = decision ?? (decide.data === undefined ? undefined : decisionOf(decide.data.status));
  const label = shown === undefined ? undefined : DECISION_LABEL[shown];
  // Someone decided first, or it expired: these buttons can no longer do anything.
  const closed = decide.error instanceof ApiError && decide.error.code === 'approval_decided';
  return (
    <Paper
      withBorder
      radius="md"
      p="sm"
      my="xs"
      aria-label={`Approval for ${tool}`}
      role="group"
      style={{ borderColor: shown === undefined ? 'var(--mantine-color-yellow-outline)' : undefined }}
    >
      <Group gap="xs" mb="xs" wrap="nowrap">
        <IconShieldQuestion size={18} aria-hidden />
        <Text size="sm" fw={600} style={{ overflowWrap: 'anywhere' }}>
          <Text span ff="monospace" fw={600} size="sm">
            {tool}
          </Text>{' '}
          wants to run
        </Text>
      </Group>
      <Text size="xs" c="dimmed" mb={4}>
        Arguments
      </Text>
      <pre className={classes.json}>{prettyJson(args)}</pre>
      {label !== undefined ? (
        <Box mt="xs" role="status">
          <Badge color={label.color} variant="light">
            {label.label}
          </Badge>
        </Box>
      ) : closed ? null : (
        <Group mt="sm" gap="xs">
          <Button
            size="xs"
            color="green"
            loading={decide.isPending && decide.variables === 'approve'}
            disabled={decide.isPending}
            onClick={() => {
              decide.mutate('approve');
            }}
          >
            Approve
          </Button>
          <Button
            size="xs"
            color="red"
            variant="light"
            loading={decide.isPending && decide.variables === 'deny'}
            disabled={decide.isPending}
            onClick={() => {
              decide.mutate('deny');
            }}
          >
            Deny
          </Button>
        </Group>
      )}
      {decide.error !== null && (
        <Box mt="xs">
          <ErrorAlert error={decide.error} />
        </Box>
      )}
    </Paper>
  );
}
