import { useInfiniteQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';

import { readOutput, sandboxKeys, sandboxPath } from './sandbox-api.js';
import { messageData, readEventStream } from '../../api/sse.js';

export type OutputStream = 'stdout' | 'stderr';

/** One read of a finished exec's output: the rest comes a page at a time, on request. */
export const OUTPUT_PAGE_BYTES = 64 * 1024;

/** A live follow keeps this much of each stream's tail: enough to watch, bounded for a chatty program. */
export const LIVE_TAIL_CHARS = 256 * 1024;

function concat(pages: readonly Uint8Array[]): Uint8Array {
  const total = pages.reduce((sum, page) => sum + page.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const page of pages) {
    bytes.set(page, at);
    at += page.length;
  }
  return bytes;
}

/**
 * A finished exec's stdout or stderr, read by offset (`…/output?stream=&offset=&length=`) a page at a time.
 * Pages are decoded together, so a character split between two pages still reads as one.
 */
export function useExecOutputPages(sandboxId: string, execId: string, stream: OutputStream) {
  const pages = useInfiniteQuery({
    queryKey: ['sandbox-exec-output', sandboxId, execId, stream],
    queryFn: ({ pageParam, signal }) =>
      readOutput(sandboxId, execId, stream, pageParam, OUTPUT_PAGE_BYTES, signal),
    initialPageParam: 0,
    getNextPageParam: (last) => {
      const next = last.offset + last.bytes.length;
      return last.bytes.length > 0 && next < last.size ? next : undefined;
    },
    staleTime: Infinity,
  });
  const loaded = pages.data?.pages;
  const text = useMemo(
    () => (loaded === undefined ? '' : new TextDecoder().decode(concat(loaded.map((page) => page.bytes)))),
    [loaded],
  );
  const last = loaded?.at(-1);
  const shownBytes = last === undefined ? 0 : last.offset + last.bytes.length;
  return { ...pages, text, shownBytes, totalBytes: last?.size ?? 0 };
}

export interface LiveOutput {
  readonly stdout: string;
  readonly stderr: string;
  /** Whether older output was dropped to keep the tail ({@link LIVE_TAIL_CHARS}). */
  readonly trimmed: Readonly<Record<OutputStream, boolean>>;
  readonly exit?: { readonly status: string; readonly exit_code: number | null };
  readonly error?: unknown;
}

const EMPTY: LiveOutput = { stdout: '', stderr: '', trimmed: { stdout: false, stderr: false } };

/**
 * A running exec's output as it is written (`…/execs/{exec}/stream`, SSE), then how it ended. The stream
 * closes on unmount; once the exec ends, its list is read again so the page shows the final status.
 */
export function useExecFollow(sandboxId: string, execId: string): LiveOutput {
  const client = useQueryClient();
  const [output, setOutput] = useState<LiveOutput>(EMPTY);

  useEffect(() => {
    const controller = new AbortController();
    const path = sandboxPath(
      sandboxId,
      `/execs/${encodeURIComponent(execId)}/stream?stdout_offset=0&stderr_offset=0`,
    );
    readEventStream(path, controller.signal, (message) => {
      const data = messageData(message) ?? {};
      if (message.event === 'output') {
        const stream: OutputStream = data['stream'] === 'stderr' ? 'stderr' : 'stdout';
        const chunk = typeof data['text'] === 'string' ? data['text'] : '';
        setOutput((current) => {
          const joined = current[stream] + chunk;
          const trimmed = joined.length > LIVE_TAIL_CHARS;
          return {
            ...current,
            [stream]: trimmed ? joined.slice(-LIVE_TAIL_CHARS) : joined,
            trimmed: { ...current.trimmed, [stream]: current.trimmed[stream] || trimmed },
          };
        });
      } else if (message.event === 'exit') {
        const exitCode = data['exit_code'];
        setOutput((current) => ({
          ...current,
          exit: {
            status: typeof data['status'] === 'string' ? data['status'] : 'exited',
            exit_code: typeof exitCode === 'number' ? exitCode : null,
          },
        }));
      }
    }).then(
      // The stream ends after `exit`, or when the connection drops: either way the exec list says where it stands.
      () => {
        void client.invalidateQueries({ queryKey: sandboxKeys.execs(sandboxId) });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setOutput((current) => ({ ...current, error }));
      },
    );
    return () => {
      controller.abort();
    };
  }, [client, sandboxId, execId]);

  return output;
}
