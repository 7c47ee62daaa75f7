import {
  Alert,
  Badge,
  Code,
  DataList,
  Grid,
  Group,
  Paper,
  Skeleton,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { IconAlertTriangle } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { useParams } from 'react-router';

import { ErrorAlert } from '../../api/ErrorAlert.js';
import { formatTime } from '../audit/display-format.js';
import { BackLink } from '../BackLink.js';
import { QueryError } from '../QueryError.js';
import { ExecsPanel } from './ExecsPanel.js';
import { SandboxActions } from './SandboxActions.js';
import { getSandbox, sandboxKeys, type Sandbox, type SandboxSpec } from './sandbox-api.js';
import { SandboxArtifacts } from './SandboxArtifacts.js';
import { SandboxEventsTimeline } from './SandboxEventsTimeline.js';
import { SandboxStateBadge } from './SandboxStateBadge.js';
import { useSandboxEvents } from './use-sandbox-events.js';

function seconds(value: number): string {
  if (value % 86_400 === 0) return `${String(value / 86_400)} d`;
  if (value % 3600 === 0) return `${String(value / 3600)} h`;
  if (value % 60 === 0) return `${String(value / 60)} min`;
  return `${String(value)} s`;
}

function Lines({ lines }: { lines: readonly ReactNode[] }) {
  return (
    <Stack gap={2}>
      {lines.map((line, index) => (
        <Text key={index} size="sm" ff="monospace" style={{ wordBreak: 'break-all' }}>
          {line}
        </Text>
      ))}
    </Stack>
  );
}

/** The spec in a few lines each; rows with nothing to say are left out. */
function specRows(spec: SandboxSpec): [string, ReactNode][] {
  const rows: [string, ReactNode][] = [];
  if (spec.image !== undefined && spec.image !== null)
    rows.push(['Image', <Code key="image">{spec.image}</Code>]);
  const limits = spec.resources;
  if (limits !== undefined) {
    const parts = [
      limits.cpus === undefined ? undefined : `${String(limits.cpus)} CPU`,
      limits.memory_mb === undefined ? undefined : `${String(limits.memory_mb)} MB memory`,
      limits.pids === undefined ? undefined : `${String(limits.pids)} processes`,
      limits.disk_mb === undefined ? undefined : `${String(limits.disk_mb)} MB disk`,
    ].filter((part) => part !== undefined);
    if (parts.length > 0) rows.push(['Limits', parts.join(' · ')]);
  }
  const lifetime = [
    spec.ttl_s === undefined || spec.ttl_s === null ? undefined : `deleted after ${seconds(spec.ttl_s)}`,
    spec.idle_ttl_s === undefined || spec.idle_ttl_s === null
      ? undefined
      : `or ${seconds(spec.idle_ttl_s)} idle`,
  ].filter((part) => part !== undefined);
  if (lifetime.length > 0) rows.push(['Lifetime', lifetime.join(' ')]);
  if (spec.network !== undefined) {
    rows.push([
      'Network',
      spec.network.mode === 'egress' ? (
        <Stack gap={2}>
          <Text size="sm">HTTP(S) to these hosts only:</Text>
          <Lines lines={spec.network.allow} />
        </Stack>
      ) : (
        'None'
      ),
    ]);
  }
  const env = Object.entries(spec.env ?? {});
  if (env.length > 0)
    rows.push(['Environment', <Lines key="env" lines={env.map(([name, value]) => `${name}=${value}`)} />]);
  const credentials = spec.credentials ?? [];
  if (credentials.length > 0) {
    rows.push([
      'Credentials',
      <Lines
        key="credentials"
        lines={credentials.map((credential) =>
          credential.as_file !== undefined ? `file ${credential.as_file}` : `env ${credential.as_env ?? ''}`,
        )}
      />,
    ]);
  }
  const mounts = spec.mounts ?? [];
  if (mounts.length > 0) {
    rows.push([
      'Mounts',
      <Lines
        key="mounts"
        lines={mounts.map(
          (mount) => `${mount.target} ← ${mount.source} (${mount.writable ? 'writable' : 'read-only'})`,
        )}
      />,
    ]);
  }
  const copies = spec.copies ?? [];
  if (copies.length > 0) {
    rows.push([
      'Copies',
      <Lines key="copies" lines={copies.map((copy) => `${copy.target} ← ${copy.source}`)} />,
    ]);
  }
  const repos = spec.git_repos ?? [];
  if (repos.length > 0) {
    rows.push([
      'Repositories',
      <Lines
        key="repos"
        lines={repos.map(
          (repo) => `${repo.url}${repo.branch === null ? '' : ` @ ${repo.branch}`} → ${repo.dest}`,
        )}
      />,
    ]);
  }
  const scripts = spec.provisioning_scripts ?? [];
  if (scripts.length > 0) rows.push(['Scripts', scripts.map((script) => script.name).join(', ')]);
  return rows;
}

function SandboxFacts({ sandbox }: { sandbox: Sandbox }) {
  const labels = Object.entries(sandbox.labels);
  const rows: [string, ReactNode][] = [
    [
      'ID',
      <Text key="id" size="sm" ff="monospace" style={{ wordBreak: 'break-all' }}>
        {sandbox.id}
      </Text>,
    ],
    ['Runtime', sandbox.runtime],
    ...(sandbox.spec === null ? [] : specRows(sandbox.spec)),
    ['Created', formatTime(sandbox.created_at)],
    ...(sandbox.expires_at === null
      ? []
      : ([['Expires', formatTime(sandbox.expires_at)]] as [string, ReactNode][])),
  ];
  if (labels.length > 0) {
    rows.push([
      'Labels',
      <Group key="labels" gap={4}>
        {labels.map(([key, value]) => (
          <Badge key={key} size="sm" variant="outline" color="gray" tt="none">
            {key}={value}
          </Badge>
        ))}
      </Group>,
    ]);
  }
  return (
    <DataList size="sm" orientation="horizontal" labelWidth={120}>
      {rows.map(([label, value]) => (
        <DataList.Item key={label}>
          <DataList.ItemLabel>{label}</DataList.ItemLabel>
          <DataList.ItemValue>{value}</DataList.ItemValue>
        </DataList.Item>
      ))}
    </DataList>
  );
}

function SandboxView({ sandboxId }: { sandboxId: string }) {
  const [selectedExec, setSelectedExec] = useState<string | undefined>(undefined);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const sandbox = useQuery({
    queryKey: sandboxKeys.one(sandboxId),
    queryFn: ({ signal }) => getSandbox(sandboxId, signal),
  });
  const events = useSandboxEvents(sandboxId);
  const data = sandbox.data;

  return (
    <Stack gap="lg" p={{ base: 'sm', sm: 'md' }}>
      <BackLink to="/admin/sandboxes">Sandboxes</BackLink>
      <Group justify="space-between" align="center" gap="sm">
        <Group gap="sm" style={{ minWidth: 0 }}>
          <Title order={1} size="h2" style={{ wordBreak: 'break-all' }}>
            {data?.name ?? 'Sandbox'}
          </Title>
          {data !== undefined && <SandboxStateBadge state={data.state} />}
        </Group>
        {data !== undefined && (
          <SandboxActions
            sandbox={data}
            size="sm"
            onOutcome={(error) => {
              setActionError(error);
            }}
          />
        )}
      </Group>
      {actionError !== undefined && <ErrorAlert error={actionError} />}
      {sandbox.isError && data === undefined && <QueryError query={sandbox} />}
      {data?.state === 'failed' && data.error !== null && (
        <Alert color="red" icon={<IconAlertTriangle size={18} />} title="Provisioning failed" role="alert">
          <Text size="sm">
            <Code>{data.error.code}</Code> {data.error.message}
          </Text>
        </Alert>
      )}
      <Paper withBorder p="md" component="section" aria-labelledby="sandbox-details-title">
        <Title order={2} size="h4" id="sandbox-details-title" mb="sm">
          Details
        </Title>
        {sandbox.isPending ? (
          <Stack gap="xs">
            {Array.from({ length: 6 }, (_, index) => (
              <Skeleton key={index} height={18} width={`${String(40 + ((index * 13) % 50))}%`} />
            ))}
          </Stack>
        ) : (
          data !== undefined && <SandboxFacts sandbox={data} />
        )}
      </Paper>
      <Grid gap="lg">
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Paper withBorder p="md" component="section" aria-label="Events">
            <SandboxEventsTimeline log={events} onSelectExec={setSelectedExec} />
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Stack gap="lg">
            <Paper withBorder p="md" component="section" aria-label="Execs">
              <ExecsPanel sandboxId={sandboxId} selectedId={selectedExec} onSelect={setSelectedExec} />
            </Paper>
            <Paper withBorder p="md" component="section" aria-label="Artifacts">
              <SandboxArtifacts sandboxId={sandboxId} />
            </Paper>
          </Stack>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

/** `/admin/sandboxes/:sandboxId`: one sandbox's spec, actions, live event log, execs with output, artifacts. */
export function SandboxPage() {
  const { sandboxId = '' } = useParams();
  return <SandboxView key={sandboxId} sandboxId={sandboxId} />;
}
