import { Button, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { IconDownload } from '@tabler/icons-react';
import { useMutation, useQuery } from '@tanstack/react-query';

import { saveBlob } from '../../api/client.js';
import { ErrorAlert } from '../../api/ErrorAlert.js';
import { formatBytes, formatTime } from '../audit/display-format.js';
import { EmptyRow, QueryRows, QueryTable, SkeletonRows } from '../TableState.js';
import { downloadArtifact, listArtifacts, sandboxKeys, type SandboxArtifact } from './sandbox-api.js';

const COLUMNS = 5;

function ArtifactRow({ sandboxId, artifact }: { sandboxId: string; artifact: SandboxArtifact }) {
  const download = useMutation({
    mutationFn: async () => {
      saveBlob(await downloadArtifact(sandboxId, artifact.id), artifact.name);
    },
  });
  return (
    <>
      <Table.Tr>
        <Table.Td>
          <Text size="sm" fw={500}>
            {artifact.name}
          </Text>
          <Text size="xs" c="dimmed" ff="monospace" style={{ wordBreak: 'break-all' }}>
            {artifact.path}
          </Text>
        </Table.Td>
        <Table.Td>
          {formatBytes(artifact.size)}
          <Text size="xs" c="dimmed">
            {artifact.content_type}
          </Text>
        </Table.Td>
        <Table.Td>
          <Tooltip label={`SHA-256 ${artifact.sha256}`} withArrow multiline maw={320}>
            <Text size="xs" ff="monospace" tabIndex={0} aria-label={`SHA-256 ${artifact.sha256}`}>
              {artifact.sha256.slice(0, 12)}…
            </Text>
          </Tooltip>
        </Table.Td>
        <Table.Td>{formatTime(artifact.created_at)}</Table.Td>
        <Table.Td>
          <Button
            size="compact-xs"
            variant="light"
            leftSection={<IconDownload size={14} />}
            loading={download.isPending}
            aria-label={`Download ${artifact.name}`}
            onClick={() => {
              download.mutate();
            }}
          >
            Download
          </Button>
        </Table.Td>
      </Table.Tr>
      {download.isError && (
        <Table.Tr>
          <Table.Td colSpan={COLUMNS}>
            <ErrorAlert error={download.error} />
          </Table.Td>
        </Table.Tr>
      )}
    </>
  );
}

/** Files copied out of the sandbox's workspace into the object store, each downloadable. */
export function SandboxArtifacts({ sandboxId }: { sandboxId: string }) {
  const artifacts = useQuery({
    queryKey: sandboxKeys.artifacts(sandboxId),
    queryFn: ({ signal }) => listArtifacts(sandboxId, signal),
  });
  return (
    <Stack gap="md">
      <Title order={2} size="h4">
        Artifacts
      </Title>
      <QueryTable query={artifacts} minWidth={640} verticalSpacing="xs" aria-busy={artifacts.isPending}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">File</Table.Th>
            <Table.Th scope="col">Size</Table.Th>
            <Table.Th scope="col">SHA-256</Table.Th>
            <Table.Th scope="col">Copied</Table.Th>
            <Table.Th scope="col">Download</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          <QueryRows
            query={artifacts}
            loading={<SkeletonRows columns={COLUMNS} rows={2} />}
            empty={
              <EmptyRow columns={COLUMNS} py="md">
                No files have been copied out of this sandbox.
              </EmptyRow>
            }
          >
            {(artifact) => <ArtifactRow key={artifact.id} sandboxId={sandboxId} artifact={artifact} />}
          </QueryRows>
        </Table.Tbody>
      </QueryTable>
    </Stack>
  );
}
