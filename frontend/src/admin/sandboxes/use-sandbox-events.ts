import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';

import { ApiError } from '../../api/api-error.js';
import {
  sandboxKeys,
  sandboxPath,
  type Sandbox,
  type SandboxEvent,
  type SandboxState,
} from './sandbox-api.js';
import { messageData, readEventStream } from '../../api/sse.js';

export type EventFollowStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface SandboxEventLog {
  /** Every event received, by sequence number, each once. */
  readonly events: readonly SandboxEvent[];
  readonly status: EventFollowStatus;
  /** Why the stream could not be opened (a 4xx: the sandbox is gone or not the caller's); it is not retried. */
  readonly error: unknown;
}

const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

function insertInOrder(events: readonly SandboxEvent[], event: SandboxEvent): readonly SandboxEvent[] {
  if (events.some((known) => known.seq === event.seq)) return events;
  const last = events.at(-1);
  if (last === undefined || last.seq < event.seq) return [...events, event];
  return [...events, event].sort((a, b) => a.seq - b.seq);
}

/**
 * Follows `GET /v1/sandbox/sandboxes/{id}/events` (SSE) while mounted: the snapshot refreshes the sandbox's
 * cached state, then every stored and live event arrives once, in sequence order. A dropped stream resumes
 * with `?after=<last seq>`, so nothing repeats or goes missing; the stream closes on unmount and after the
 * sandbox is deleted.
 */
export function useSandboxEvents(sandboxId: string): SandboxEventLog {
  const client = useQueryClient();
  const [events, setEvents] = useState<readonly SandboxEvent[]>([]);
  const [status, setStatus] = useState<EventFollowStatus>('connecting');
  const [error, setError] = useState<unknown>(undefined);

  useEffect(() => {
    const controller = new AbortController();
    let lastSeq = 0;
    // Events up to the snapshot's sequence are history: the snapshot already reflects them.
    let snapshotSeq = Number.POSITIVE_INFINITY;
    let retryMs = RETRY_FIRST_MS;
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let finished = false;

    const applyLive = (event: SandboxEvent) => {
      if (event.type === 'state_changed' && typeof event.data['state'] === 'string') {
        const state = event.data['state'] as SandboxState;
        const code = event.data['code'];
        const message = event.data['message'];
        client.setQueryData<Sandbox>(sandboxKeys.one(sandboxId), (sandbox) =>
          sandbox === undefined
            ? undefined
            : {
                ...sandbox,
                state,
                error:
                  typeof code === 'string'
                    ? { code, message: typeof message === 'string' ? message : code }
                    : sandbox.error,
              },
        );
        void client.invalidateQueries({ queryKey: sandboxKeys.list });
      }
      if (event.type === 'exec_started' || event.type === 'exec_ended') {
        void client.invalidateQueries({ queryKey: sandboxKeys.execs(sandboxId) });
      }
    };

    const onEvent = (type: string, id: string | undefined, data: Record<string, unknown>) => {
      if (type === 'snapshot') {
        const sandbox = data['sandbox'] as Sandbox | undefined;
        if (sandbox !== undefined) client.setQueryData<Sandbox>(sandboxKeys.one(sandboxId), sandbox);
        snapshotSeq = typeof data['seq'] === 'number' ? data['seq'] : 0;
        setStatus('live');
        return;
      }
      const seq = Number(id ?? data['seq']);
      if (!Number.isSafeInteger(seq) || seq <= lastSeq) return;
      lastSeq = seq;
      const { seq: _seq, at, ...rest } = data;
      const event: SandboxEvent = { seq, type, at: typeof at === 'string' ? at : '', data: rest };
      setEvents((known) => insertInOrder(known, event));
      if (seq > snapshotSeq) applyLive(event);
      if (type === 'sandbox_deleted' || (type === 'state_changed' && data['state'] === 'deleted')) {
        finished = true;
        controller.abort();
      }
    };

    const connect = async (): Promise<void> => {
      const path = sandboxPath(sandboxId, lastSeq > 0 ? `/events?after=${String(lastSeq)}` : '/events');
      try {
        await readEventStream(path, controller.signal, (message) => {
          // A stream that delivered something was healthy: the next drop starts the backoff afresh.
          retryMs = RETRY_FIRST_MS;
          onEvent(message.event ?? 'message', message.id, messageData(message) ?? {});
        });
      } catch (failure) {
        if (controller.signal.aborted) {
          if (finished) setStatus('closed');
          return;
        }
        if (failure instanceof ApiError && failure.status >= 400 && failure.status < 500) {
          setError(failure);
          setStatus('closed');
          return;
        }
      }
      if (controller.signal.aborted) return;
      setStatus('reconnecting');
      retryTimer = setTimeout(() => {
        void connect();
      }, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    };
    void connect();

    return () => {
      controller.abort();
      if (retryTimer !== undefined) clearTimeout(retryTimer);
    };
  }, [client, sandboxId]);

  return { events, status, error };
}
