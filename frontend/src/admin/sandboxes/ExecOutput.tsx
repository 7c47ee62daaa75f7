import {
  Badge,
  Button,
  Code,
  Group,
  Loader,
  ScrollArea,
  SegmentedControl,
  Skeleton,
  Stack,
  Text,
  Title,
} from '@mantine/core';
import { useEffect, useRef, useState } from 'react';

import { ErrorAlert } from '../../api/ErrorAlert.js';
import { formatBytes } from '../audit/display-format.js';
import { QueryError } from '../QueryError.js';
import type { Exec } from './sandbox-api.js';
import { ExecStatusBadge } from './ExecStatusBadge.js';
import { useExecFollow, useExecOutputPages, type OutputStream } from './use-exec-output.js';

const OUTPUT_MIN_HEIGHT = 140;
const OUTPUT_MAX_HEIGHT = 420;

/** A monospace block of output; while it grows it stays scrolled to the end, unless the reader scrolled up. */
function OutputBlock({
  text,
  stream,
  following,
}: {
  text: string;
  stream: OutputStream;
  following: boolean;
}) {
  const viewport = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  useEffect(() => {
    const element = viewport.current;
    if (following && element !== null && pinned.current) element.scrollTop = element.scrollHeight;
  }, [text, following]);
  return (
    <ScrollArea.Autosize
      mah={OUTPUT_MAX_HEIGHT}
      type="auto"
      viewportRef={viewport}
      onScrollPositionChange={({ y }) => {
        const element = viewport.current;
        if (element !== null) pinned.current = y + element.clientHeight >= element.scrollHeight - 24;
      }}
    >
      <Code
        block
        role="log"
        aria-label={stream === 'stdout' ? 'Standard output' : 'Standard error'}
        mih={OUTPUT_MIN_HEIGHT}
        style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}
      >
        {text === '' ? (
          <Text span c="dimmed" size="xs">
            (no output)
          </Text>
        ) : (
          text
        )}
      </Code>
    </ScrollArea.Autosize>
  );
}

function FinishedOutput({
  sandboxId,
  exec,
  stream,
}: {
  sandboxId: string;
  exec: Exec;
  stream: OutputStream;
}) {
  const output = useExecOutputPages(sandboxId, exec.id, stream);
  if (output.isPending) return <Skeleton height={OUTPUT_MIN_HEIGHT} />;
  if (output.isError && output.data === undefined) return <QueryError query={output} />;
  return (
    <Stack gap="xs">
      <OutputBlock text={output.text} stream={stream} following={false} />
      {output.isFetchNextPageError && <ErrorAlert error={output.error} />}
      {output.totalBytes > 0 && (
        <Group justify="space-between" gap="xs">
          <Text size="xs" c="dimmed">
            {output.shownBytes < output.totalBytes
              ? `Showing ${formatBytes(output.shownBytes)} of ${formatBytes(output.totalBytes)}`
              : formatBytes(output.totalBytes)}
          </Text>
          {output.hasNextPage && (
            <Button
              size="compact-sm"
              variant="default"
              loading={output.isFetchingNextPage}
              onClick={() => {
                void output.fetchNextPage();
              }}
            >
              Load more
            </Button>
          )}
        </Group>
      )}
    </Stack>
  );
}

function LiveOutput({ sandboxId, exec, stream }: { sandboxId: string; exec: Exec; stream: OutputStream }) {
  const live = useExecFollow(sandboxId, exec.id);
  return (
    <Stack gap="xs">
      {live.error !== undefined && <ErrorAlert error={live.error} />}
      <OutputBlock text={live[stream]} stream={stream} following />
      <Group gap="xs">
        {live.exit === undefined ? (
          <>
            <Loader size="xs" aria-hidden />
            <Text size="xs" c="dimmed">
              Following live
            </Text>
          </>
        ) : (
          <Text size="xs" c="dimmed">
            Ended: {live.exit.status}
            {live.exit.exit_code !== null && `, exit code ${String(live.exit.exit_code)}`}
          </Text>
        )}
        {live.trimmed[stream] && (
          <Badge size="xs" variant="light" color="gray">
            Showing the latest output only
          </Badge>
        )}
      </Group>
    </Stack>
  );
}

/** One exec's stdout and stderr: followed live while it runs, read a page at a time once it has ended. */
export function ExecOutput({ sandboxId, exec }: { sandboxId: string; exec: Exec }) {
  const [stream, setStream] = useState<OutputStream>('stdout');
  const running = exec.status === 'running';
  return (
    <Stack gap="sm" component="section" aria-labelledby={`exec-output-${exec.id}`}>
      <Group justify="space-between" gap="xs" wrap="wrap">
        <Group gap="xs" wrap="nowrap" style={{ minWidth: 0 }}>
          <Title order={3} size="h5" id={`exec-output-${exec.id}`}>
            Output
          </Title>
          <Code style={{ overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap', minWidth: 0 }}>
            {exec.argv.join(' ')}
          </Code>
          <ExecStatusBadge exec={exec} />
        </Group>
        <SegmentedControl
          size="xs"
          aria-label="Output stream"
          value={stream}
          onChange={(value) => {
            setStream(value === 'stderr' ? 'stderr' : 'stdout');
          }}
          data={[
            { value: 'stdout', label: 'stdout' },
            { value: 'stderr', label: 'stderr' },
          ]}
        />
      </Group>
      {running ? (
        <LiveOutput sandboxId={sandboxId} exec={exec} stream={stream} />
      ) : (
        <FinishedOutput key={stream} sandboxId={sandboxId} exec={exec} stream={stream} />
      )}
    </Stack>
  );
}
