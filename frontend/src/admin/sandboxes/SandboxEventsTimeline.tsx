import { Badge, Button, Code, Group, Loader, Skeleton, Stack, Text, Timeline, Title } from '@mantine/core';
import {
  IconCheck,
  IconCircleDot,
  IconPlayerPlay,
  IconPlayerStop,
  IconPlayerSkipForward,
  IconTrash,
  IconX,
} from '@tabler/icons-react';
import type { ReactNode } from 'react';

import { ErrorAlert } from '../../api/ErrorAlert.js';
import { formatDuration, formatTime } from '../audit/display-format.js';
import type { SandboxEvent, SandboxState } from './sandbox-api.js';
import { SandboxStateBadge } from './SandboxStateBadge.js';
import type { SandboxEventLog } from './use-sandbox-events.js';

type StepStatus = 'started' | 'completed' | 'skipped' | 'failed';

/** A provisioning step's `started` and its outcome are one entry; every other event is its own. */
type Entry =
  | {
      readonly kind: 'step';
      readonly seq: number;
      readonly at: string;
      readonly step: string;
      readonly status: StepStatus;
      readonly message?: string;
      readonly durationMs?: number;
    }
  | { readonly kind: 'event'; readonly seq: number; readonly at: string; readonly event: SandboxEvent };

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function stepStatus(value: unknown): StepStatus {
  return value === 'completed' || value === 'skipped' || value === 'failed' ? value : 'started';
}

function timelineEntries(events: readonly SandboxEvent[]): Entry[] {
  const entries: Entry[] = [];
  const open = new Map<string, number>();
  for (const event of events) {
    if (event.type !== 'provisioning_step') {
      entries.push({ kind: 'event', seq: event.seq, at: event.at, event });
      continue;
    }
    const step = text(event.data['step']) ?? 'step';
    const status = stepStatus(event.data['status']);
    const message = text(event.data['message']);
    const duration = event.data['duration_ms'];
    const outcome = {
      status,
      ...(message === undefined ? {} : { message }),
      ...(typeof duration === 'number' ? { durationMs: duration } : {}),
    };
    const index = open.get(step);
    const started = index === undefined ? undefined : entries[index];
    if (status !== 'started' && index !== undefined && started?.kind === 'step') {
      entries[index] = { kind: 'step', seq: started.seq, at: started.at, step, ...outcome };
      open.delete(step);
      continue;
    }
    if (status === 'started') open.set(step, entries.length);
    entries.push({ kind: 'step', seq: event.seq, at: event.at, step, ...outcome });
  }
  return entries;
}

const STEP_LOOK: Record<StepStatus, { color: string; bullet: ReactNode }> = {
  started: { color: 'blue', bullet: <Loader size={10} color="white" aria-hidden /> },
  completed: { color: 'green', bullet: <IconCheck size={12} /> },
  skipped: { color: 'gray', bullet: <IconPlayerSkipForward size={12} /> },
  failed: { color: 'red', bullet: <IconX size={12} /> },
};

function Meta({ seq, at }: { seq: number; at: string }) {
  return (
    <Text size="xs" c="dimmed">
      #{seq} · {at === '' ? '—' : <time dateTime={at}>{formatTime(at)}</time>}
    </Text>
  );
}

interface Look {
  readonly title: string;
  readonly color: string;
  readonly bullet: ReactNode;
  readonly body?: ReactNode;
}

function eventLook(event: SandboxEvent, onSelectExec: (execId: string) => void): Look {
  const data = event.data;
  switch (event.type) {
    case 'state_changed': {
      const state = (text(data['state']) ?? 'pending') as SandboxState;
      const code = text(data['code']);
      return {
        title: 'State changed',
        color: state === 'failed' ? 'red' : state === 'ready' ? 'green' : 'gray',
        bullet: <IconCircleDot size={12} />,
        body: (
          <Group gap="xs">
            <SandboxStateBadge state={state} historic />
            {code !== undefined && (
              <Text size="sm">
                <Code>{code}</Code> {text(data['message'])}
              </Text>
            )}
          </Group>
        ),
      };
    }
    case 'provisioning_complete':
      return { title: 'Provisioning complete', color: 'green', bullet: <IconCheck size={12} /> };
    case 'provisioning_failed':
      return {
        title: 'Provisioning failed',
        color: 'red',
        bullet: <IconX size={12} />,
        body: (
          <Text size="sm">
            {text(data['step'])} <Code>{text(data['code']) ?? 'internal'}</Code> {text(data['message'])}
          </Text>
        ),
      };
    case 'exec_started': {
      const execId = text(data['exec_id']);
      const argv = Array.isArray(data['argv']) ? data['argv'].map(String).join(' ') : '';
      return {
        title: 'Exec started',
        color: 'blue',
        bullet: <IconPlayerPlay size={12} />,
        body: (
          <Group gap="xs" wrap="nowrap" align="center">
            <Code style={{ overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap', minWidth: 0 }}>
              {argv}
            </Code>
            {execId !== undefined && (
              <Button
                size="compact-xs"
                variant="subtle"
                onClick={() => {
                  onSelectExec(execId);
                }}
              >
                Output
              </Button>
            )}
          </Group>
        ),
      };
    }
    case 'exec_ended': {
      const status = text(data['status']) ?? 'exited';
      const exitCode = data['exit_code'];
      return {
        title: 'Exec ended',
        color: status === 'exited' && exitCode === 0 ? 'green' : 'orange',
        bullet: <IconPlayerStop size={12} />,
        body: (
          <Text size="sm">
            {status}
            {typeof exitCode === 'number' && <> · exit code {exitCode}</>}
          </Text>
        ),
      };
    }
    case 'ttl_expired':
      return { title: 'Lifetime expired', color: 'orange', bullet: <IconX size={12} /> };
    case 'idle_expired':
      return { title: 'Idle time expired', color: 'orange', bullet: <IconX size={12} /> };
    case 'sandbox_deleted':
      return { title: 'Deleted', color: 'gray', bullet: <IconTrash size={12} /> };
    default:
      return { title: event.type.replaceAll('_', ' '), color: 'gray', bullet: <IconCircleDot size={12} /> };
  }
}

function FollowStatus({ status }: { status: SandboxEventLog['status'] }) {
  if (status === 'live')
    return (
      <Badge variant="dot" color="green">
        Live
      </Badge>
    );
  if (status === 'reconnecting')
    return (
      <Badge variant="dot" color="yellow">
        Reconnecting
      </Badge>
    );
  if (status === 'connecting')
    return (
      <Badge variant="dot" color="gray">
        Connecting
      </Badge>
    );
  return null;
}

/** The sandbox's ordered event log: provisioning steps with status and duration, state changes, execs. */
export function SandboxEventsTimeline({
  log,
  onSelectExec,
}: {
  log: SandboxEventLog;
  onSelectExec: (execId: string) => void;
}) {
  const entries = timelineEntries(log.events);
  return (
    <Stack gap="md">
      <Group justify="space-between">
        <Title order={2} size="h4">
          Events
        </Title>
        <FollowStatus status={log.status} />
      </Group>
      {log.error !== undefined && <ErrorAlert error={log.error} />}
      {log.status === 'connecting' && entries.length === 0 && (
        <Stack gap="md" aria-label="Loading the events">
          {Array.from({ length: 4 }, (_, index) => (
            <Group key={index} wrap="nowrap" align="flex-start">
              <Skeleton circle height={20} />
              <Stack gap={6} style={{ flex: 1 }}>
                <Skeleton height={14} width="35%" />
                <Skeleton height={12} width="55%" />
              </Stack>
            </Group>
          ))}
        </Stack>
      )}
      {log.status !== 'connecting' && entries.length === 0 && log.error === undefined && (
        <Text size="sm" c="dimmed">
          No events yet.
        </Text>
      )}
      {entries.length > 0 && (
        <Timeline bulletSize={20} lineWidth={2} active={entries.length - 1} aria-label="Sandbox events">
          {entries.map((entry) => {
            if (entry.kind === 'step') {
              const look = STEP_LOOK[entry.status];
              return (
                <Timeline.Item
                  key={entry.seq}
                  color={look.color}
                  bullet={look.bullet}
                  title={
                    <Group gap="xs">
                      <Text fw={600} size="sm">
                        {entry.step}
                      </Text>
                      <Badge size="xs" variant="light" color={look.color}>
                        {entry.status === 'started' ? 'running' : entry.status}
                      </Badge>
                      {entry.durationMs !== undefined && (
                        <Text size="xs" c="dimmed">
                          {formatDuration(entry.durationMs)}
                        </Text>
                      )}
                    </Group>
                  }
                >
                  {entry.message !== undefined && (
                    <Text size="sm" style={{ wordBreak: 'break-word' }}>
                      {entry.message}
                    </Text>
                  )}
                  <Meta seq={entry.seq} at={entry.at} />
                </Timeline.Item>
              );
            }
            const look = eventLook(entry.event, onSelectExec);
            return (
              <Timeline.Item
                key={entry.seq}
                color={look.color}
                bullet={look.bullet}
                title={
                  <Text fw={600} size="sm">
                    {look.title}
                  </Text>
                }
              >
                {look.body}
                <Meta seq={entry.seq} at={entry.at} />
              </Timeline.Item>
            );
          })}
        </Timeline>
      )}
    </Stack>
  );
}
