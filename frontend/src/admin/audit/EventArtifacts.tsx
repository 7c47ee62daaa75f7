import {
  Badge,
  Button,
  Code,
  Collapse,
  Group,
  Paper,
  ScrollArea,
  Skeleton,
  Stack,
  Text,
  Tooltip,
} from '@mantine/core';
import { IconDownload, IconEye, IconEyeOff } from '@tabler/icons-react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useId, useState } from 'react';

import { saveBlob } from '../../api/client.js';
import { ErrorAlert } from '../../api/ErrorAlert.js';
import { QueryError } from '../QueryError.js';
import { artifactPath, fetchArtifact, type ReplayArtifact } from './audit-api.js';
import { formatBytes, shortId } from './display-format.js';

/** Larger bodies are offered as downloads only: a preview is for reading at a glance. */
const PREVIEW_MAX_BYTES = 256 * 1024;

function isText(contentType: string): boolean {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return type.startsWith('text/') || type === 'application/json' || type.endsWith('+json');
}

function isJson(contentType: string): boolean {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || type.endsWith('+json');
}

function extensionOf(contentType: string): string {
  if (isJson(contentType)) return 'json';
  if (contentType.toLowerCase().startsWith('text/plain')) return 'txt';
  if (isText(contentType)) return 'txt';
  return 'bin';
}

/** JSON bodies are indented for reading; anything else is shown as it is. */
function readable(text: string, contentType: string): string {
  if (!isJson(contentType)) return text;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function ArtifactPreview({ path, artifact }: { path: string; artifact: ReplayArtifact }) {
  const body = useQuery({
    queryKey: ['audit-artifact', path],
    queryFn: async ({ signal }) =>
      readable(await (await fetchArtifact(path, signal)).text(), artifact.content_type),
    staleTime: Infinity,
  });
  if (body.isPending) return <Skeleton height={Math.min(160, 40 + artifact.size / 8)} />;
  if (body.isError) return <QueryError query={body} />;
  return (
    <ScrollArea.Autosize mah={360} type="auto">
      <Code block style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>
        {body.data === '' ? '(empty)' : body.data}
      </Code>
    </ScrollArea.Autosize>
  );
}

function ArtifactRow({
  turnId,
  eventId,
  artifact,
}: {
  turnId: string;
  eventId: string;
  artifact: ReplayArtifact;
}) {
  const [previewing, setPreviewing] = useState(false);
  const previewId = useId();
  const path = artifactPath(turnId, eventId, artifact.kind);
  const download = useMutation({
    mutationFn: async () => {
      saveBlob(
        await fetchArtifact(path),
        `${artifact.kind}-${shortId(eventId)}.${extensionOf(artifact.content_type)}`,
      );
    },
  });
  const previewable = artifact.stored && isText(artifact.content_type) && artifact.size <= PREVIEW_MAX_BYTES;
  return (
    <Paper withBorder p="xs" radius="sm">
      <Stack gap={6}>
        <Group justify="space-between" gap="xs" wrap="wrap">
          <Group gap="xs" wrap="wrap">
            <Badge variant="light" color="gray" tt="none">
              {artifact.kind}
            </Badge>
            <Text size="xs" c="dimmed">
              {formatBytes(artifact.size)} · {artifact.content_type}
            </Text>
            <Tooltip label={`SHA-256 ${artifact.sha256}`} withArrow multiline maw={320}>
              <Text
                size="xs"
                ff="monospace"
                c="dimmed"
                aria-label={`SHA-256 ${artifact.sha256}`}
                tabIndex={0}
              >
                sha256 {artifact.sha256.slice(0, 12)}…
              </Text>
            </Tooltip>
          </Group>
          {artifact.stored ? (
            <Group gap={4}>
              {previewable && (
                <Button
                  size="compact-xs"
                  variant="subtle"
                  leftSection={previewing ? <IconEyeOff size={14} /> : <IconEye size={14} />}
                  aria-expanded={previewing}
                  aria-controls={previewId}
                  aria-label={`${previewing ? 'Hide' : 'Preview'} ${artifact.kind}`}
                  onClick={() => {
                    setPreviewing((open) => !open);
                  }}
                >
                  {previewing ? 'Hide' : 'Preview'}
                </Button>
              )}
              <Button
                size="compact-xs"
                variant="light"
                leftSection={<IconDownload size={14} />}
                loading={download.isPending}
                aria-label={`Download ${artifact.kind}`}
                onClick={() => {
                  download.mutate();
                }}
              >
                Download
              </Button>
            </Group>
          ) : (
            <Text size="xs" c="dimmed">
              Body not captured
            </Text>
          )}
        </Group>
        {download.isError && <ErrorAlert error={download.error} />}
        <Collapse expanded={previewing} id={previewId}>
          {previewing && <ArtifactPreview path={path} artifact={artifact} />}
        </Collapse>
      </Stack>
    </Paper>
  );
}

/** The bodies an event captured (prompt, arguments, output, stdout…), each downloadable, small text ones readable in place. */
export function EventArtifacts({
  turnId,
  eventId,
  artifacts,
}: {
  turnId: string;
  eventId: string;
  artifacts: readonly ReplayArtifact[];
}) {
  if (artifacts.length === 0) return null;
  return (
    <Stack gap={6} mt="xs">
      {artifacts.map((artifact) => (
        <ArtifactRow key={artifact.kind} turnId={turnId} eventId={eventId} artifact={artifact} />
      ))}
    </Stack>
  );
}
