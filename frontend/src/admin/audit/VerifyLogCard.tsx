import { Alert, Anchor, Button, Code, DataList, Group, Stack, Text } from '@mantine/core';
import { IconCircleCheck, IconShieldCheck, IconShieldX } from '@tabler/icons-react';
import { useMutation } from '@tanstack/react-query';
import { Link } from 'react-router';

import { ErrorAlert } from '../../api/ErrorAlert.js';
import { verifyLog, type LogVerification } from './audit-api.js';
import { AuditCard } from './AuditCard.js';
import { shortId } from './display-format.js';

const count = new Intl.NumberFormat();

function Counts({ result }: { result: LogVerification }) {
  const rows: [string, number][] = [
    ['Tree size', result.tree_size],
    ['Turns checked', result.turns_checked],
    ['Events checked', result.events_checked],
    ['Log nodes checked', result.nodes_checked],
    ['Checkpoints checked', result.checkpoints_checked],
  ];
  return (
    <DataList size="sm" orientation="horizontal" labelWidth={150}>
      {rows.map(([label, value]) => (
        <DataList.Item key={label}>
          <DataList.ItemLabel>{label}</DataList.ItemLabel>
          <DataList.ItemValue ff="monospace">{count.format(value)}</DataList.ItemValue>
        </DataList.Item>
      ))}
    </DataList>
  );
}

function VerificationResult({ result }: { result: LogVerification }) {
  const failure = result.failure;
  if (result.ok || failure === undefined) {
    return (
      <Alert color="green" icon={<IconCircleCheck size={18} />} title="The log verifies" role="status">
        <Text size="sm" mb="xs">
          Every event, envelope, chain link, log node and checkpoint stored for this tenant checks out.
        </Text>
        <Counts result={result} />
      </Alert>
    );
  }
  return (
    <Alert color="red" icon={<IconShieldX size={18} />} title="The log does not verify" role="alert">
      <Stack gap="xs">
        <Group gap="xs">
          <Text size="sm" fw={500}>
            Failure
          </Text>
          <Code>{failure.code}</Code>
        </Group>
        <Text size="sm">{failure.message}</Text>
        {failure.log_index !== undefined && (
          <Text size="sm">
            At log index <Code>{String(failure.log_index)}</Code>
          </Text>
        )}
        {failure.turn_id !== undefined && (
          <Text size="sm">
            In turn{' '}
            <Anchor component={Link} to={`/admin/audit/turns/${failure.turn_id}`} ff="monospace">
              {shortId(failure.turn_id)}
            </Anchor>
          </Text>
        )}
        <Counts result={result} />
      </Stack>
    </Alert>
  );
}

/** Re-verifies the tenant's whole log on request: it reads everything stored, so it is never automatic. */
export function VerifyLogCard() {
  const verification = useMutation({ mutationFn: verifyLog });
  return (
    <AuditCard
      titleId="verify-log-title"
      title="Log verification"
      description="Re-checks every hash, chain link and signature of this tenant's audit log from storage."
      aside={<IconShieldCheck size={28} aria-hidden style={{ flexShrink: 0 }} />}
    >
      <Group>
        <Button
          onClick={() => {
            verification.mutate();
          }}
          loading={verification.isPending}
        >
          Verify the log
        </Button>
      </Group>
      <div aria-live="polite">
        {verification.isError && (
          <ErrorAlert
            error={verification.error}
            onRetry={() => {
              verification.mutate();
            }}
          />
        )}
        {verification.data !== undefined && <VerificationResult result={verification.data} />}
      </div>
    </AuditCard>
  );
}
