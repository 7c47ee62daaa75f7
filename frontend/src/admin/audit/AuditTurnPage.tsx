import {
  Badge,
  Button,
  Code,
  Collapse,
  DataList,
  Group,
  Paper,
  ScrollArea,
  Skeleton,
  Stack,
  Text,
  Timeline,
  Title,
} from '@mantine/core';
import {
  IconAlertTriangle,
  IconChevronDown,
  IconChevronRight,
  IconLock,
  IconPoint,
} from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { useParams } from 'react-router';

import { eventHighlights, eventTypeLabel } from '../../receipts/event-labels.js';
import { ReceiptBadge } from '../../receipts/ReceiptBadge.js';
import { BackLink } from '../BackLink.js';
import { QueryError } from '../QueryError.js';
import { fetchReplay, type Replay, type ReplayEvent } from './audit-api.js';
import { formatTime, shortId } from './display-format.js';
import { EventArtifacts } from './EventArtifacts.js';
import { Fact } from './Fact.js';

function eventColor(type: string): string {
  if (type === 'turn_failed' || type === 'cap_token_rejected') return 'red';
  if (type === 'turn_sealed') return 'green';
  if (type === 'approval_requested' || type === 'approval_decided') return 'yellow';
  return 'blue';
}

function EventBody({ turnId, item }: { turnId: string; item: ReplayEvent }) {
  const [open, setOpen] = useState(false);
  const attributesId = useId();
  const { event } = item;
  const highlights = eventHighlights(event.attributes);
  const hasAttributes = Object.keys(event.attributes).length > 0;
  return (
    <Stack gap={4}>
      <Text size="xs" c="dimmed">
        {event.service} · <time dateTime={event.occurred_at}>{formatTime(event.occurred_at)}</time>
        {' · '}
        {event.user_id}
      </Text>
      {highlights.length > 0 && (
        <Group gap="sm" wrap="wrap">
          {highlights.map(({ label, value }) => (
            <Text key={label} size="sm" span>
              <Text span c="dimmed" size="sm">
                {label}:
              </Text>{' '}
              <Text span ff="monospace" size="sm">
                {value}
              </Text>
            </Text>
          ))}
        </Group>
      )}
      {hasAttributes && (
        <div>
          <Button
            size="compact-xs"
            variant="subtle"
            color="gray"
            leftSection={open ? <IconChevronDown size={14} /> : <IconChevronRight size={14} />}
            aria-expanded={open}
            aria-controls={attributesId}
            onClick={() => {
              setOpen((value) => !value);
            }}
          >
            {open ? 'Hide attributes' : 'All attributes'}
          </Button>
          <Collapse expanded={open} id={attributesId}>
            {open && (
              <ScrollArea.Autosize mah={320} type="auto" mt={4}>
                <Code block style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>
                  {JSON.stringify(event.attributes, null, 2)}
                </Code>
              </ScrollArea.Autosize>
            )}
          </Collapse>
        </div>
      )}
      <EventArtifacts turnId={turnId} eventId={event.event_id} artifacts={item.artifacts} />
    </Stack>
  );
}

function ReplayTimeline({ replay }: { replay: Replay }) {
  if (replay.events.length === 0) {
    return (
      <Text c="dimmed" size="sm">
        This turn has no events yet.
      </Text>
    );
  }
  return (
    <Timeline active={replay.events.length - 1} bulletSize={22} lineWidth={2}>
      {replay.events.map((item) => {
        const color = eventColor(item.event.type);
        return (
          <Timeline.Item
            key={item.event.event_id}
            color={color}
            bullet={
              item.event.type === 'turn_sealed' ? (
                <IconLock size={12} />
              ) : color === 'red' ? (
                <IconAlertTriangle size={12} />
              ) : (
                <IconPoint size={12} />
              )
            }
            title={
              <Title order={3} size="h6">
                {eventTypeLabel(item.event.type)}
              </Title>
            }
          >
            <EventBody turnId={replay.turn_id} item={item} />
          </Timeline.Item>
        );
      })}
    </Timeline>
  );
}

function TurnFacts({ replay }: { replay: Replay }) {
  return (
    <DataList size="sm" orientation="horizontal" labelWidth={90}>
      <Fact label="Turn" mono breakAnywhere>
        {replay.turn_id}
      </Fact>
      <Fact label="User" breakAnywhere>
        {replay.user_id}
      </Fact>
      <Fact label="State">
        <Badge variant="light" color={replay.state === 'sealed' ? 'green' : 'yellow'}>
          {replay.state}
        </Badge>
      </Fact>
      <Fact label="Events">{replay.events.length}</Fact>
    </DataList>
  );
}

function ReplaySkeleton() {
  return (
    <Stack gap="md" aria-label="Loading the replay">
      <Skeleton height={96} />
      {Array.from({ length: 4 }, (_, index) => (
        <Group key={index} wrap="nowrap" align="flex-start">
          <Skeleton circle height={22} />
          <Stack gap={6} style={{ flex: 1 }}>
            <Skeleton height={16} width="30%" />
            <Skeleton height={12} width="50%" />
            <Skeleton height={14} width="70%" />
          </Stack>
        </Group>
      ))}
    </Stack>
  );
}

/** `/admin/audit/turns/:turnId`: one turn replayed event by event, with its captured bodies and its receipt. */
export function AuditTurnPage() {
  const { turnId = '' } = useParams();
  const replay = useQuery({
    queryKey: ['audit-replay', turnId],
    queryFn: ({ signal }) => fetchReplay(turnId, signal),
    // An open turn is still gaining events; a sealed one never changes.
    refetchInterval: (query) => (query.state.data?.state === 'open' ? 5000 : false),
  });
  return (
    <Stack gap="lg" p={{ base: 'sm', sm: 'md' }}>
      <BackLink to="/admin/audit">Audit</BackLink>
      <Group justify="space-between" align="center" gap="sm">
        <Title order={1} size="h2">
          Turn{' '}
          <Text span inherit ff="monospace">
            {shortId(turnId)}
          </Text>
        </Title>
        <ReceiptBadge turnId={turnId} />
      </Group>
      {replay.isPending && <ReplaySkeleton />}
      {replay.isError && <QueryError query={replay} />}
      {replay.data !== undefined && (
        <>
          <Paper withBorder p="md">
            <TurnFacts replay={replay.data} />
          </Paper>
          <section aria-labelledby="replay-title">
            <Title order={2} size="h4" id="replay-title" mb="md">
              Replay
            </Title>
            <ReplayTimeline replay={replay.data} />
          </section>
        </>
      )}
    </Stack>
  );
}
