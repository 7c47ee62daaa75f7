import {
  Alert,
  Anchor,
  Box,
  Button,
  Code,
  DataList,
  Group,
  List,
  Skeleton,
  Stack,
  Text,
  ThemeIcon,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import {
  IconCheck,
  IconDownload,
  IconHourglassHigh,
  IconMinus,
  IconShieldCheck,
  IconShieldX,
  IconX,
} from '@tabler/icons-react';
import type { ReactNode } from 'react';
import { Link } from 'react-router';

import { saveBlob } from '../api/client.js';
import { ErrorAlert } from '../api/ErrorAlert.js';
import { useIsAdmin } from '../auth/me.js';
import { EventTimeline } from './EventTimeline.js';
import {
  FAILED_CHECKS,
  receiptSteps,
  type FetchedProof,
  type ReceiptStepStatus,
} from './receipt-verification.js';
import type { FailedOutcome, ReceiptState, VerifiedOutcome } from './use-receipt.js';

const STEP_LOOKS: Readonly<Record<ReceiptStepStatus, { icon: ReactNode; color: string; words: string }>> = {
  passed: { icon: <IconCheck size={14} />, color: 'green', words: 'passed' },
  failed: { icon: <IconX size={14} />, color: 'red', words: 'failed' },
  not_checked: { icon: <IconMinus size={14} />, color: 'gray', words: 'not checked' },
};

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

function formatDateTime(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : DATE_TIME.format(at);
}

function plural(count: number, one: string, many: string): string {
  return count === 1 ? `1 ${one}` : `${count.toLocaleString()} ${many}`;
}

function Verdict({ state }: { state: Exclude<ReceiptState, { status: 'unavailable' }> }) {
  switch (state.status) {
    case 'verified': {
      const { receipt, signer } = state.outcome;
      const events =
        receipt === undefined ? 'the events' : plural(receipt.envelope.event_count, 'event', 'events');
      const key = signer === undefined ? 'a published audit key' : signer.name;
      return (
        <Alert variant="light" color="green" icon={<IconShieldCheck size={20} />}>
          Verified in your browser: {events} of this answer are sealed in the audit log, under a checkpoint
          signed by {key}.
        </Alert>
      );
    }
    case 'failed': {
      const { failure } = state.outcome.report;
      return (
        <Alert variant="light" color="red" icon={<IconShieldX size={20} />}>
          <Text size="sm">Verification failed: {FAILED_CHECKS[failure.code]}.</Text>
          <Text size="xs" c="dimmed" mt={4}>
            {failure.code}: {failure.message}
          </Text>
        </Alert>
      );
    }
    case 'sealing':
      return (
        <Alert variant="light" color="gray" icon={<IconHourglassHigh size={20} />}>
          Sealing: the audit log has not sealed this answer yet. This takes a moment.
        </Alert>
      );
    case 'verifying':
      return (
        <Alert variant="light" color="blue" icon={<IconShieldCheck size={20} />}>
          Verifying this answer&apos;s receipt in your browser…
        </Alert>
      );
  }
}

function Checks({ outcome }: { outcome: VerifiedOutcome | FailedOutcome }) {
  return (
    <Stack gap="xs" component="section">
      <Title order={3} size="h5">
        What was checked
      </Title>
      <List spacing="xs" size="sm" center listStyleType="none">
        {receiptSteps(outcome).map((step) => {
          const look = STEP_LOOKS[step.status];
          return (
            <List.Item
              key={step.id}
              icon={
                <ThemeIcon size={20} radius="xl" variant="light" color={look.color} aria-hidden>
                  {look.icon}
                </ThemeIcon>
              }
            >
              <Text size="sm" c={step.status === 'not_checked' ? 'dimmed' : undefined}>
                {step.label}
                <VisuallyHidden>: {look.words}</VisuallyHidden>
              </Text>
              {step.detail !== undefined && (
                <Text size="xs" c="dimmed" ff="monospace" style={{ overflowWrap: 'anywhere' }}>
                  {step.detail}
                </Text>
              )}
            </List.Item>
          );
        })}
      </List>
    </Stack>
  );
}

function SealedRecord({ outcome }: { outcome: VerifiedOutcome | FailedOutcome }) {
  const { receipt, origin } = outcome;
  if (receipt === undefined) return null;
  const { envelope, log } = receipt;
  const facts: [string, ReactNode][] = [
    ['Turn', envelope.turn_id],
    ['Events', envelope.event_count.toLocaleString()],
    ['Merkle root', envelope.merkle_root],
    ['Log index', log.index.toLocaleString()],
    ['Tree size', log.tree_size.toLocaleString()],
    ['Checkpoint', origin ?? 'unreadable'],
    ['Sealed', formatDateTime(envelope.sealed_at)],
    ['Chain position', envelope.chain.seq.toLocaleString()],
  ];
  return (
    <Stack gap="xs" component="section">
      <Title order={3} size="h5">
        Sealed record
      </Title>
      <DataList size="sm" labelWidth="8rem" gap="xs">
        {facts.map(([label, value]) => (
          <DataList.Item key={label}>
            <DataList.ItemLabel>{label}</DataList.ItemLabel>
            <DataList.ItemValue ff="monospace" fz="xs" style={{ overflowWrap: 'anywhere' }}>
              {value}
            </DataList.ItemValue>
          </DataList.Item>
        ))}
      </DataList>
    </Stack>
  );
}

function Events({ outcome }: { outcome: VerifiedOutcome | FailedOutcome }) {
  const { receipt, report } = outcome;
  if (receipt === undefined) return null;
  return (
    <Stack gap="xs" component="section">
      <Title order={3} size="h5">
        Events
      </Title>
      {!report.ok && (
        <Text size="sm" c="dimmed">
          These events are shown as the server sent them; they could not be verified.
        </Text>
      )}
      <EventTimeline events={receipt.events} />
    </Stack>
  );
}

/** Space held for the checks, events and record while the receipt is on its way. */
function PanelSkeleton() {
  return (
    <Stack gap="lg" aria-hidden>
      <Stack gap="xs">
        <Skeleton height={16} width="40%" />
        {[0, 1, 2, 3].map((row) => (
          <Skeleton key={row} height={20} />
        ))}
      </Stack>
      <Stack gap="xs">
        <Skeleton height={16} width="30%" />
        <Skeleton height={160} />
      </Stack>
    </Stack>
  );
}

function proofOf(state: ReceiptState): FetchedProof | undefined {
  switch (state.status) {
    case 'verified':
    case 'failed':
      return state.outcome.proof;
    case 'unavailable':
      return state.proof;
    case 'sealing':
    case 'verifying':
      return undefined;
  }
}

/**
 * The receipt of one answer: the verdict in a sentence, what was checked, the turn's events, the sealed
 * record, the proof to download (to check again with `aibox verify`) and, for admins, the way to the audit.
 */
export function ReceiptPanel({ turnId, state }: { turnId: string; state: ReceiptState }) {
  const isAdmin = useIsAdmin();
  const proof = proofOf(state);
  const download = (bytes: ArrayBuffer) => {
    saveBlob(new Blob([bytes], { type: 'application/json' }), `receipt-${turnId}.json`);
  };
  return (
    <Stack gap="lg">
      {state.status === 'unavailable' ? (
        <ErrorAlert code={state.code} message={state.message} onRetry={state.retry} />
      ) : (
        <Verdict state={state} />
      )}
      {(state.status === 'verified' || state.status === 'failed') && (
        <>
          <Checks outcome={state.outcome} />
          <Events outcome={state.outcome} />
          <SealedRecord outcome={state.outcome} />
        </>
      )}
      {(state.status === 'sealing' || state.status === 'verifying') && <PanelSkeleton />}
      {(proof !== undefined || isAdmin) && (
        <Box>
          <Group gap="md">
            {proof !== undefined && (
              <Button
                variant="default"
                leftSection={<IconDownload size={16} />}
                onClick={() => {
                  download(proof.bytes);
                }}
              >
                Download proof JSON
              </Button>
            )}
            {isAdmin && (
              <Anchor component={Link} to={`/admin/audit/turns/${encodeURIComponent(turnId)}`} size="sm">
                Open in audit
              </Anchor>
            )}
          </Group>
          {proof !== undefined && (
            <Text size="xs" c="dimmed" mt="xs">
              Anyone can check this file again with <Code>aibox verify</Code> and the published audit keys.
            </Text>
          )}
        </Box>
      )}
    </Stack>
  );
}
