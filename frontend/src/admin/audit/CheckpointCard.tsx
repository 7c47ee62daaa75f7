import { Alert, Code, CopyButton, DataList, Group, ScrollArea, Skeleton, Stack, Text } from '@mantine/core';
import { IconAlertTriangle, IconCheck, IconCopy, IconRefresh } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';

import { AuditProofError, parseCheckpoint, parseNote, toHex } from '@aibox/audit-proof';

import { errorCode } from '../../api/ErrorAlert.js';
import { QueryError } from '../QueryError.js';
import { TooltipActionIcon } from '../TooltipActionIcon.js';
import { fetchCheckpointNote } from './audit-api.js';
import { AuditCard } from './AuditCard.js';
import { Fact } from './Fact.js';

interface ReadCheckpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHex: string;
  readonly signers: readonly { name: string; keyId: string }[];
}

type Reading = { ok: true; checkpoint: ReadCheckpoint } | { ok: false; message: string };

/** Reads the signed note as the offline verifier does; a malformed one is shown as such, never half-read. */
function readNote(note: string): Reading {
  try {
    const { text, signatures } = parseNote(note);
    const checkpoint = parseCheckpoint(text);
    return {
      ok: true,
      checkpoint: {
        origin: checkpoint.origin,
        size: checkpoint.size,
        rootHex: toHex(checkpoint.rootHash),
        signers: signatures.map((signature) => ({ name: signature.name, keyId: toHex(signature.keyId) })),
      },
    };
  } catch (error) {
    if (error instanceof AuditProofError) return { ok: false, message: error.message };
    throw error;
  }
}

const count = new Intl.NumberFormat();

function CopyNoteButton({ note }: { note: string }) {
  return (
    <CopyButton value={note} timeout={1500}>
      {({ copied, copy }) => (
        <TooltipActionIcon
          label={copied ? 'Copied' : 'Copy the signed note'}
          withArrow
          color={copied ? 'teal' : 'gray'}
          onClick={copy}
        >
          {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
        </TooltipActionIcon>
      )}
    </CopyButton>
  );
}

function CheckpointFacts({ checkpoint }: { checkpoint: ReadCheckpoint }) {
  return (
    <DataList size="sm" orientation="horizontal" labelWidth={110}>
      <Fact label="Origin" mono breakAnywhere>
        {checkpoint.origin}
      </Fact>
      <Fact label="Tree size" mono>
        {count.format(checkpoint.size)}
      </Fact>
      <Fact label="Root hash" mono breakAnywhere>
        {checkpoint.rootHex}
      </Fact>
      <Fact label="Signed by">
        <Stack gap={2}>
          {checkpoint.signers.map((signer) => (
            <Text
              key={`${signer.name} ${signer.keyId}`}
              size="sm"
              ff="monospace"
              style={{ wordBreak: 'break-all' }}
            >
              {signer.name}{' '}
              <Text span c="dimmed" size="xs" ff="monospace">
                key {signer.keyId}
              </Text>
            </Text>
          ))}
        </Stack>
      </Fact>
    </DataList>
  );
}

/** The tenant log's latest signed checkpoint (`GET /v1/audit/checkpoint`): what every receipt is checked against. */
export function CheckpointCard() {
  const note = useQuery({
    queryKey: ['audit-checkpoint'],
    queryFn: ({ signal }) => fetchCheckpointNote(signal),
  });
  const reading = useMemo(() => (note.data === undefined ? undefined : readNote(note.data)), [note.data]);
  const empty = note.isError && errorCode(note.error).code === 'log_empty';

  return (
    <AuditCard
      titleId="checkpoint-title"
      title="Latest checkpoint"
      description="The signed size and root of this tenant's log, in the C2SP signed-note format."
      aside={
        <TooltipActionIcon
          label="Reload the checkpoint"
          withArrow
          color="gray"
          loading={note.isFetching}
          onClick={() => {
            void note.refetch();
          }}
        >
          <IconRefresh size={18} />
        </TooltipActionIcon>
      }
    >
      {note.isPending && (
        <Stack gap="xs" aria-label="Loading the checkpoint">
          <Skeleton height={18} width="70%" />
          <Skeleton height={18} width="30%" />
          <Skeleton height={36} />
          <Skeleton height={18} width="50%" />
          <Skeleton height={96} mt="xs" />
        </Stack>
      )}
      {empty && (
        <Text size="sm" c="dimmed">
          No checkpoint yet: the log has no sealed turn.
        </Text>
      )}
      {note.isError && !empty && <QueryError query={note} />}
      {reading !== undefined && !reading.ok && (
        <Alert color="red" icon={<IconAlertTriangle size={18} />} title="Malformed checkpoint" role="alert">
          <Text size="sm">The server&apos;s checkpoint is not a valid signed note: {reading.message}</Text>
        </Alert>
      )}
      {reading?.ok === true && <CheckpointFacts checkpoint={reading.checkpoint} />}
      {note.data !== undefined && (
        <div>
          <Group justify="space-between" gap="xs">
            <Text size="sm" fw={500} id="checkpoint-note-label">
              Signed note
            </Text>
            <CopyNoteButton note={note.data} />
          </Group>
          <ScrollArea.Autosize mah={220} type="auto">
            <Code
              block
              aria-labelledby="checkpoint-note-label"
              style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}
            >
              {note.data}
            </Code>
          </ScrollArea.Autosize>
        </div>
      )}
    </AuditCard>
  );
}
