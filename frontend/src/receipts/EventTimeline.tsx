import type { ProofEvent } from '@aibox/audit-proof';
import { Box, Button, Code, Collapse, Group, Stack, Text, Timeline } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import {
  IconAlertTriangle,
  IconArrowBackUp,
  IconBrain,
  IconChevronDown,
  IconChevronRight,
  IconFileSearch,
  IconGavel,
  IconKey,
  IconKeyOff,
  IconLock,
  IconMessage2,
  IconPlayerPlay,
  IconPoint,
  IconShieldHalf,
  IconSparkles,
  IconTerminal2,
  IconTool,
  IconUserCheck,
  type Icon,
} from '@tabler/icons-react';
import { useId } from 'react';

import { eventHighlights, eventTypeLabel } from './event-labels.js';

const TYPE_ICONS: Readonly<Record<string, Icon>> = {
  turn_started: IconPlayerPlay,
  prompt_generated: IconMessage2,
  model_invoked: IconSparkles,
  model_response: IconSparkles,
  rag_chunks_retrieved: IconFileSearch,
  memory_op: IconBrain,
  tool_called: IconTool,
  tool_returned: IconArrowBackUp,
  approval_requested: IconUserCheck,
  approval_decided: IconGavel,
  sandbox_exec: IconTerminal2,
  guardrail_verdict: IconShieldHalf,
  cap_token_issued: IconKey,
  cap_token_rejected: IconKeyOff,
  turn_failed: IconAlertTriangle,
  turn_sealed: IconLock,
};

const FAILURE_TYPES = new Set(['turn_failed', 'cap_token_rejected']);

const TIME = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  fractionalSecondDigits: 3,
});

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function formatTime(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : TIME.format(at);
}

function artifactKinds(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((artifact: unknown) => {
    const kind =
      typeof artifact === 'object' && artifact !== null ? (artifact as { kind?: unknown }).kind : undefined;
    return typeof kind === 'string' ? [kind] : [];
  });
}

/** One event's line: service, time and main attributes, and its full record opened on demand. */
function EventBody({ event, label }: { event: Record<string, unknown>; label: string }) {
  const [opened, { toggle }] = useDisclosure(false);
  const detailsId = useId();
  const occurredAt = text(event['occurred_at']);
  const highlights = eventHighlights(event['attributes']);
  const captured = artifactKinds(event['artifacts']);
  return (
    <>
      <Group gap="xs" wrap="wrap">
        <Text size="xs" c="dimmed">
          {text(event['service'])} ·{' '}
          <time dateTime={occurredAt} title={occurredAt}>
            {formatTime(occurredAt)}
          </time>
        </Text>
        <Button
          variant="subtle"
          color="gray"
          size="compact-xs"
          fw={500}
          leftSection={opened ? <IconChevronDown size={12} /> : <IconChevronRight size={12} />}
          aria-label={`Attributes of ${label}`}
          aria-expanded={opened}
          aria-controls={detailsId}
          onClick={toggle}
        >
          Attributes
        </Button>
      </Group>
      {highlights.length > 0 && (
        <Group gap="xs" wrap="wrap">
          {highlights.map((highlight) => (
            <Box key={highlight.label} component="span" fz="xs">
              <Text span fz="xs" c="dimmed">
                {highlight.label}
              </Text>{' '}
              {highlight.value}
            </Box>
          ))}
        </Group>
      )}
      <Collapse expanded={opened} keepMounted={false} id={detailsId}>
        <Stack gap={4} mt={4}>
          <Text size="xs" c="dimmed">
            Event <Code>{text(event['event_id'])}</Code>
          </Text>
          {captured.length > 0 && (
            <Text size="xs" c="dimmed">
              Captured: {captured.join(', ')}
            </Text>
          )}
          <Code block fz="xs">
            {JSON.stringify(event['attributes'] ?? {}, null, 2)}
          </Code>
        </Stack>
      </Collapse>
    </>
  );
}

/**
 * A turn's events in commit order, as the receipt proof carries them: what happened in words, which service
 * recorded it, when, and its main attributes (model, tool, decision, exit code, tokens).
 */
export function EventTimeline({ events }: { events: readonly ProofEvent[] }) {
  return (
    <Timeline
      active={events.length - 1}
      bulletSize={22}
      lineWidth={2}
      styles={{ itemTitle: { fontSize: 'var(--mantine-font-size-sm)', fontWeight: 600, marginBottom: 2 } }}
    >
      {events.map(({ index, event }) => {
        const type = text(event['type']);
        const TypeIcon = TYPE_ICONS[type] ?? IconPoint;
        const label = eventTypeLabel(type);
        return (
          <Timeline.Item
            key={index}
            title={label}
            bullet={<TypeIcon size={14} aria-hidden />}
            {...(FAILURE_TYPES.has(type) ? { color: 'red' } : {})}
          >
            <EventBody event={event} label={label} />
          </Timeline.Item>
        );
      })}
    </Timeline>
  );
}
