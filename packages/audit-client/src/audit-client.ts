import { setTimeout as sleep } from 'node:timers/promises';

import { Metadata, status } from '@grpc/grpc-js';

import {
  GRPC_STATUS_DETAILS_KEY,
  PublishStatus,
  TurnEvent,
  TurnEventServiceClient,
  decodeErrorDetails,
  isTurnEventType,
  type PublishResponse,
  type PublishResult,
  type PutArtifactResponse,
  type TurnEventType,
} from '@aibox/contracts';
import {
  GRPC_METADATA,
  INTERNAL_PRINCIPAL_ISSUER,
  newTurnId,
  signPrincipal,
  type KeySet,
} from '@aibox/identity';

import {
  ARTIFACT_CHUNK_BYTES,
  prepareArtifact,
  type ArtifactUpload,
  type ArtifactRef,
  type PreparedArtifact,
} from './artifact.js';
import { AuditClientError } from './audit-client.error.js';
import {
  MIB,
  validateOptions,
  type AuditClientLogger,
  type AuditClientOptions,
} from './audit-client.options.js';
import {
  backoffDelay,
  batchByIdentity,
  isRetryableStatus,
  type Backoff,
  type SizedEvent,
} from './batching.js';
import { EventSpool, type SpoolAppendResult, type SpoolSegment } from './event-spool.js';

/** How long a signed principal is reused: well inside its 60 s life, so a call never carries a stale one. */
const PRINCIPAL_REUSE_MS = 30_000;
const MAX_CACHED_PRINCIPALS = 10_000;

/** A body published beside an event: its role in the event (`prompt`, `output`…), type and bytes. */
export interface CapturedBody {
  readonly kind: string;
  readonly contentType: string;
  readonly body: Uint8Array | string;
}

/** What a service hands over; the client fills `eventId` (UUIDv7), `service` and `occurredAt` (now) when absent. */
export interface TurnEventInput {
  eventId?: string;
  turnId: string;
  tenantId: string;
  userId: string;
  service?: string;
  type: TurnEventType;
  occurredAt?: Date;
  attributes?: Record<string, unknown>;
  artifacts?: TurnEvent['artifacts'];
}

/** Counters since construction, except `queued` and `spoolBytes`, which are current. */
export interface AuditClientStats {
  /** Events in memory, waiting for or inside a call. */
  queued: number;
  /** Events audit acknowledged as ACCEPTED or DUPLICATE (live or replayed from the spool). */
  delivered: number;
  /** Events written to the spool because audit could not take them. */
  spooled: number;
  /** Events audit answered REJECTED, or refused here before sending (`event_invalid`, …). */
  rejected: number;
  /** Events lost: the spool was full or unwritable, a spool line was corrupt, or the client was closed. */
  dropped: number;
  /** Bytes the spool holds on disk now. */
  spoolBytes: number;
}

/** Codes of events refused before sending, as they appear in `PublishResult.code`. */
export type LocalRejectCode = 'event_invalid' | 'event_type_unknown' | 'event_too_large';

type Outcome = { kind: 'result'; result: PublishResult } | { kind: 'spooled' } | { kind: 'dropped' };

interface Pending extends SizedEvent {
  readonly seq: number;
  readonly settle?: (outcome: Outcome) => void;
}

type Prepared = SizedEvent | { readonly event: TurnEvent; readonly code: LocalRejectCode };

/**
 * Publishes turn events to audit's `TurnEventService.Publish` in batches, retries transient failures, and keeps
 * what audit cannot take in a bounded on-disk spool that a background replayer re-sends, oldest first, once
 * audit answers again — also after a restart. `enqueue` never blocks or throws on audit trouble.
 */
export class AuditClient {
  private readonly service: string;
  private readonly keys: KeySet;
  private readonly maxBatch: number;
  private readonly maxBatchBytes: number;
  private readonly flushIntervalMs: number;
  private readonly maxRetries: number;
  private readonly backoff: Backoff;
  private readonly callTimeoutMs: number;
  private readonly logger: AuditClientLogger;
  private readonly grpc: TurnEventServiceClient;
  private readonly spool: EventSpool;

  private queue: Pending[] = [];
  private inFlight = 0;
  private lastSeq = 0;
  private settledSeq = 0;
  private flushWaiters: { seq: number; resolve: () => void }[] = [];
  private senderRunning = false;
  /** Set by `flush`/`publish`: send everything queued now instead of waiting for a full batch or the timer. */
  private sendNow = false;
  private batchTimer: NodeJS.Timeout | undefined;

  private replayWanted = false;
  private replayRunning = false;
  private replayTask: Promise<void> | undefined;
  private readonly stopReplay = new AbortController();
  /** Event ids of a spool segment already acknowledged, so a partly replayed segment is not re-sent whole. */
  private readonly replayAcked = new Map<string, Set<string>>();

  /** `putArtifact` calls not settled yet; `close` waits for them. */
  private readonly uploads = new Set<Promise<unknown>>();

  private readonly principals = new Map<string, { token: string; signedAt: number }>();
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly counts = { delivered: 0, spooled: 0, rejected: 0, dropped: 0 };

  constructor(options: AuditClientOptions) {
    const o = validateOptions(options);
    this.service = o.service;
    this.keys = o.principalKeys;
    this.maxBatch = o.maxBatch;
    this.maxBatchBytes = o.maxBatchBytes;
    this.flushIntervalMs = o.flushIntervalMs;
    this.maxRetries = o.maxRetries;
    this.backoff = o.backoff;
    this.callTimeoutMs = o.callTimeoutMs;
    this.logger = o.logger;
    this.grpc = new TurnEventServiceClient(o.target, o.credentials, {
      // Reconnect on our own schedule: grpc-js would otherwise wait up to 2 minutes after a long outage.
      'grpc.initial_reconnect_backoff_ms': Math.round(o.backoff.baseMs),
      'grpc.max_reconnect_backoff_ms': Math.round(o.backoff.maxMs),
    });
    const segmentMaxBytes = Math.max(4096, Math.min(4 * MIB, Math.floor(o.spoolMaxBytes / 16)));
    this.spool = new EventSpool(o.spoolDir, o.spoolMaxBytes, segmentMaxBytes);
    // Events spooled by an earlier process are replayed as soon as audit answers.
    void this.resumeSpool(o.spoolDir);
  }

  /**
   * Queues an event for the next batch and returns its event id. Never blocks and never throws: delivery
   * trouble ends in the spool, and what cannot be kept is counted and logged.
   */
  enqueue(input: TurnEventInput): string {
    let prepared: Prepared;
    try {
      prepared = this.prepare(input);
    } catch (error) {
      // Only reachable from untyped callers (e.g. `null`); still no throw into a request path.
      this.counts.rejected += 1;
      this.logger.error(
        { code: 'event_invalid', error: describeError(error) },
        'turn event could not be read',
      );
      return '';
    }
    if (this.closed) {
      this.counts.dropped += 1;
      this.logger.error(logFields(prepared.event), 'audit client is closed; event dropped');
      return prepared.event.eventId;
    }
    if ('code' in prepared) {
      this.rejectLocally(prepared.event, prepared.code);
      return prepared.event.eventId;
    }
    this.push(prepared);
    this.schedule(false);
    return prepared.event.eventId;
  }

  /**
   * Sends events now and resolves with audit's result for each, in input order (events refused here come
   * back REJECTED with a {@link LocalRejectCode}). Rejects with `audit_unavailable` when audit did not
   * acknowledge them all — those events are then in the spool (or counted as dropped) — and with
   * `client_closed` after {@link close}.
   */
  async publish(inputs: readonly TurnEventInput[]): Promise<PublishResult[]> {
    if (this.closed) {
      throw new AuditClientError('client_closed');
    }
    const outcomes = inputs.map((input): Promise<Outcome> => {
      const prepared = this.prepare(input);
      if ('code' in prepared) {
        this.rejectLocally(prepared.event, prepared.code);
        const result = {
          eventId: prepared.event.eventId,
          status: PublishStatus.REJECTED,
          code: prepared.code,
        };
        return Promise.resolve({ kind: 'result', result });
      }
      return new Promise<Outcome>((settle) => {
        this.push(prepared, settle);
      });
    });
    this.schedule(true);
    const settled = await Promise.all(outcomes);
    const results: PublishResult[] = [];
    let spooled = 0;
    let dropped = 0;
    for (const outcome of settled) {
      if (outcome.kind === 'result') {
        results.push(outcome.result);
      } else if (outcome.kind === 'spooled') {
        spooled += 1;
      } else {
        dropped += 1;
      }
    }
    if (spooled + dropped > 0) {
      throw new AuditClientError(
        'audit_unavailable',
        `${spooled} of ${settled.length} events spooled for later delivery, ${dropped} dropped`,
      );
    }
    return results;
  }

  /** Resolves once every event queued before the call is delivered, rejected, spooled or dropped. */
  async flush(): Promise<void> {
    const target = this.lastSeq;
    if (this.settledSeq >= target) {
      return;
    }
    const done = new Promise<void>((resolve) => {
      this.flushWaiters.push({ seq: target, resolve });
    });
    this.schedule(true);
    await done;
  }

  /**
   * Uploads one captured body for an event with `TurnEventService.PutArtifact`, streamed in chunks (64 KiB),
   * with the same per-(tenant,user) service principal as Publish; retries transient failures (UNAVAILABLE,
   * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) with the client's backoff up to maxRetries; resolves with audit's
   * {sha256, size}; rejects AuditClientError('audit_unavailable') when it could not, 'client_closed' after close().
   *
   * Also rejects `artifact_invalid` before any call when audit would refuse the upload (ids, kind, content
   * type), and `artifact_mismatch` when audit reports another digest or size than the body's. Bodies are not
   * spooled: on `audit_unavailable` the caller still holds the body and decides whether to try again later.
   */
  async putArtifact(artifact: ArtifactUpload): Promise<{ sha256: string; size: number }> {
    if (this.closed) {
      throw new AuditClientError('client_closed');
    }
    return this.track(prepareArtifact(artifact));
  }

  /**
   * `putArtifact` for a body whose event is about to be queued: checks and hashes the body once, and gives
   * back at once the reference the event carries (`artifactRef` of the same body) with the upload's outcome,
   * which settles as `putArtifact`'s does. Throws `artifact_invalid` or `client_closed` before uploading.
   */
  attachArtifact(artifact: ArtifactUpload): {
    ref: ArtifactRef;
    stored: Promise<{ sha256: string; size: number }>;
  } {
    if (this.closed) {
      throw new AuditClientError('client_closed');
    }
    const prepared = prepareArtifact(artifact);
    return {
      ref: {
        kind: prepared.header.kind,
        sha256: prepared.sha256,
        size: prepared.body.length,
        contentType: prepared.header.contentType,
      },
      stored: this.track(prepared),
    };
  }

  /**
   * `enqueue` for an event with bodies captured beside it (a prompt, a tool's output…): each body is uploaded
   * with `attachArtifact` and the event carries their references. Neither waits: a body refused before upload
   * or not stored is logged with its ids, and the event still proves what it was by its digest. Returns the
   * event id.
   */
  enqueueWithBodies(
    input: Omit<TurnEventInput, 'eventId' | 'artifacts'>,
    bodies: readonly CapturedBody[],
  ): string {
    const eventId = newTurnId();
    const artifacts: NonNullable<TurnEventInput['artifacts']> = [];
    const { turnId, tenantId, userId } = input;
    for (const body of bodies) {
      const ids = { turn_id: turnId, event_id: eventId, kind: body.kind };
      try {
        const { ref, stored } = this.attachArtifact({ turnId, tenantId, userId, eventId, ...body });
        artifacts.push(ref);
        stored.catch((error: unknown) => {
          this.logger.warn({ err: error, ...ids }, 'a captured body could not be stored in audit');
        });
      } catch (error: unknown) {
        this.logger.error({ err: error, ...ids }, 'a captured body was refused before upload');
      }
    }
    this.enqueue({ ...input, eventId, artifacts });
    return eventId;
  }

  /** Uploads, counted among the uploads `close` waits for. */
  private async track(prepared: PreparedArtifact): Promise<{ sha256: string; size: number }> {
    const upload = this.upload(prepared);
    this.uploads.add(upload);
    try {
      return await upload;
    } finally {
      this.uploads.delete(upload);
    }
  }

  /**
   * Flushes, waits for uploads already started, stops the replayer and closes the channel. What is still
   * spooled stays on disk for the next process. Later `enqueue` calls drop and log; later `publish` and
   * `putArtifact` calls reject with `client_closed`.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  stats(): AuditClientStats {
    return {
      queued: this.queue.length + this.inFlight,
      ...this.counts,
      spoolBytes: this.spool.bytes,
    };
  }

  private async resumeSpool(dir: string): Promise<void> {
    try {
      if (!(await this.spool.isEmpty())) {
        this.requestReplay(0);
      }
    } catch (error) {
      this.logger.error(
        { spool_dir: dir, error: describeError(error) },
        'audit spool directory is unusable; events that cannot be delivered will be dropped',
      );
    }
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    // Bodies have no spool: an upload already started gets its whole retry budget (bounded like a batch's)
    // rather than being cut off, and the channel closes only once no call uses it.
    await Promise.all([this.flush(), Promise.allSettled([...this.uploads])]);
    this.stopReplay.abort();
    await this.replayTask;
    this.grpc.close();
    await this.spool.close();
  }

  private prepare(input: TurnEventInput): Prepared {
    const event: TurnEvent = {
      eventId: nonEmpty(input.eventId) ? input.eventId : newTurnId(),
      turnId: input.turnId,
      tenantId: input.tenantId,
      userId: input.userId,
      service: nonEmpty(input.service) ? input.service : this.service,
      type: input.type,
      occurredAt: input.occurredAt ?? new Date(),
      attributes: input.attributes,
      artifacts: input.artifacts ?? [],
    };
    // Callers may be untyped JavaScript or cast data: check what signing and routing rely on.
    if (!nonEmpty(event.turnId) || !nonEmpty(event.tenantId) || !nonEmpty(event.userId)) {
      return { event, code: 'event_invalid' };
    }
    if (typeof event.type !== 'string' || !isTurnEventType(event.type)) {
      return { event, code: 'event_type_unknown' };
    }
    let bytes: number;
    try {
      bytes = TurnEvent.encode(event).finish().length;
    } catch {
      return { event, code: 'event_invalid' };
    }
    if (bytes > this.maxBatchBytes) {
      return { event, code: 'event_too_large' };
    }
    return { event, bytes };
  }

  private rejectLocally(event: TurnEvent, code: LocalRejectCode): void {
    this.counts.rejected += 1;
    this.logger.warn({ ...logFields(event), code }, 'turn event refused before sending');
  }

  private push(item: SizedEvent, settle?: (outcome: Outcome) => void): void {
    this.lastSeq += 1;
    this.queue.push(
      settle === undefined ? { ...item, seq: this.lastSeq } : { ...item, seq: this.lastSeq, settle },
    );
  }

  private schedule(now: boolean): void {
    if (now) {
      this.sendNow = true;
    }
    if (this.senderRunning || this.queue.length === 0) {
      return;
    }
    if (this.sendNow || this.queue.length >= this.maxBatch) {
      void this.runSender();
      return;
    }
    this.batchTimer ??= setTimeout(() => {
      void this.runSender();
    }, this.flushIntervalMs);
  }

  /**
   * The only sender of live batches: one chunk at a time, so events reach audit (or the spool) in order.
   * After the first chunk it goes on only with a full batch or when a flush is wanted; a partial remainder
   * waits for the batch timer, so that a steady trickle of events makes a few large calls rather than one
   * small call per round trip.
   */
  private async runSender(): Promise<void> {
    if (this.senderRunning) {
      return;
    }
    this.senderRunning = true;
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    try {
      for (let first = true; ; first = false) {
        if (!first && !this.sendNow && this.queue.length < this.maxBatch) {
          break;
        }
        const chunk = this.queue.splice(0, this.maxBatch);
        if (this.queue.length === 0) {
          this.sendNow = false;
        }
        const last = chunk.at(-1);
        if (last === undefined) {
          break;
        }
        this.inFlight += chunk.length;
        try {
          await this.dispatch(chunk);
        } catch (error) {
          // dispatch handles every expected failure; this guards the flush promise against the unexpected.
          this.logger.error(
            { error: describeError(error), events: chunk.length },
            'audit client failed a batch',
          );
          for (const item of chunk) {
            item.settle?.({ kind: 'dropped' });
          }
          this.counts.dropped += chunk.length;
        } finally {
          this.inFlight -= chunk.length;
        }
        this.markSettled(last.seq);
      }
    } finally {
      this.senderRunning = false;
    }
    // What arrived while the last chunk was in flight goes with the next timer (or now, if flushed).
    this.schedule(false);
  }

  private markSettled(seq: number): void {
    this.settledSeq = seq;
    const waiting = this.flushWaiters;
    this.flushWaiters = [];
    for (const waiter of waiting) {
      if (waiter.seq <= seq) {
        waiter.resolve();
      } else {
        this.flushWaiters.push(waiter);
      }
    }
  }

  private async dispatch(chunk: Pending[]): Promise<void> {
    // While older events wait in the spool, newer ones queue behind them there: audit sees each client's
    // events in order, so a turn is never sealed ahead of its own events.
    const behindSpool = await this.spool.appendIfNotEmpty(chunk.map((item) => item.event));
    if (behindSpool !== undefined) {
      this.settleSpooled(chunk, behindSpool);
      return;
    }
    const unacknowledged: Pending[] = [];
    const batches = batchByIdentity(chunk, this.maxBatch, this.maxBatchBytes);
    await Promise.all(
      batches.map(async (batch) => {
        unacknowledged.push(...(await this.sendLive(batch.items)));
      }),
    );
    if (unacknowledged.length > 0) {
      unacknowledged.sort((a, b) => a.seq - b.seq);
      const result = await this.spool.append(unacknowledged.map((item) => item.event));
      this.settleSpooled(unacknowledged, result);
    }
  }

  /** Sends one batch, retrying transient failures; returns the events audit did not acknowledge. */
  private async sendLive(items: Pending[]): Promise<Pending[]> {
    for (let attempt = 0; ; attempt += 1) {
      let response: PublishResponse;
      try {
        response = await this.call(items.map((item) => item.event));
      } catch (error) {
        const code = grpcCode(error);
        if (code !== undefined && isRetryableStatus(code) && attempt < this.maxRetries) {
          await sleep(backoffDelay(attempt, this.backoff));
          continue;
        }
        this.logCallFailure(
          error,
          { events: items.length, attempts: attempt + 1 },
          'spooling events audit did not take',
        );
        return items;
      }
      return this.applyResults(items, response);
    }
  }

  /** Counts audit's answers and settles their events; returns events it gave no usable result for. */
  private applyResults<T extends SizedEvent & { settle?: (outcome: Outcome) => void }>(
    items: readonly T[],
    response: PublishResponse,
  ): T[] {
    // Results are matched by id, in order, so an event sent twice in one call gets both of its answers.
    const byId = new Map<string, PublishResult[]>();
    for (const result of response.results) {
      const list = byId.get(result.eventId);
      if (list === undefined) {
        byId.set(result.eventId, [result]);
      } else {
        list.push(result);
      }
    }
    const missing: T[] = [];
    for (const item of items) {
      const result = byId.get(item.event.eventId)?.shift();
      switch (result?.status) {
        case PublishStatus.ACCEPTED:
        case PublishStatus.DUPLICATE:
          this.counts.delivered += 1;
          item.settle?.({ kind: 'result', result });
          break;
        case PublishStatus.REJECTED:
          this.counts.rejected += 1;
          this.logger.warn({ ...logFields(item.event), code: result.code }, 'audit rejected a turn event');
          item.settle?.({ kind: 'result', result });
          break;
        case PublishStatus.UNSPECIFIED:
        case PublishStatus.UNRECOGNIZED:
        case undefined:
          missing.push(item);
          break;
      }
    }
    if (missing.length > 0) {
      this.logger.warn(
        { events: missing.length, first_event_id: missing[0]?.event.eventId },
        'audit answered without a usable result for some events; they will be re-sent',
      );
    }
    return missing;
  }

  private settleSpooled(items: readonly Pending[], result: SpoolAppendResult): void {
    let spooled = 0;
    let dropped = 0;
    items.forEach((item, index) => {
      if (result.stored[index] === true) {
        spooled += 1;
        item.settle?.({ kind: 'spooled' });
      } else {
        dropped += 1;
        item.settle?.({ kind: 'dropped' });
      }
    });
    this.counts.spooled += spooled;
    this.counts.dropped += dropped;
    if (dropped > 0) {
      const lost = items.filter((_item, index) => result.stored[index] !== true).map((item) => item.event);
      this.logger.error(
        {
          dropped,
          spool_bytes: this.spool.bytes,
          event_ids: lost.slice(0, 20).map((event) => event.eventId),
          tenant_ids: [...new Set(lost.map((event) => event.tenantId))].slice(0, 20),
          ...(result.error === undefined ? { reason: 'spool_full' } : { error: describeError(result.error) }),
        },
        'audit spool cannot take turn events; they are lost',
      );
    }
    if (spooled > 0) {
      this.requestReplay(backoffDelay(0, this.backoff));
    }
  }

  private requestReplay(delayMs: number): void {
    this.replayWanted = true;
    if (!this.replayRunning && !this.stopReplay.signal.aborted) {
      this.replayRunning = true;
      this.replayTask = this.replay(delayMs);
    }
  }

  /** Re-sends spool segments oldest first, backing off while audit refuses; stops when the spool is empty. */
  private async replay(initialDelayMs: number): Promise<void> {
    try {
      await this.replayUntilEmpty(initialDelayMs);
    } finally {
      // Cleared in the same step that ends the loop, so a request arriving after it starts a new replay.
      this.replayRunning = false;
    }
  }

  private async replayUntilEmpty(initialDelayMs: number): Promise<void> {
    let delay = initialDelayMs;
    let failures = 0;
    while (this.replayWanted && !this.stopReplay.signal.aborted) {
      this.replayWanted = false;
      for (;;) {
        if (this.replayStopped()) {
          return;
        }
        if (delay > 0) {
          try {
            await sleep(delay, undefined, { ref: false, signal: this.stopReplay.signal });
          } catch {
            return;
          }
        }
        let segment: SpoolSegment | undefined;
        let delivered = false;
        try {
          segment = await this.spool.takeOldest();
          if (segment === undefined) {
            break;
          }
          delivered = await this.replaySegment(segment, failures === 0);
          if (delivered) {
            await this.spool.remove(segment.name);
            this.replayAcked.delete(segment.name);
          }
        } catch (error) {
          this.logger.error({ error: describeError(error) }, 'audit spool replay failed; will retry');
        }
        if (delivered) {
          if (failures > 0) {
            this.logger.warn({ spool_bytes: this.spool.bytes }, 'audit reachable again; replaying the spool');
          }
          failures = 0;
          delay = 0;
        } else {
          delay = backoffDelay(failures, this.backoff);
          failures += 1;
        }
      }
    }
  }

  private replayStopped(): boolean {
    return this.stopReplay.signal.aborted;
  }

  /** True when every event of the segment was acknowledged (ACCEPTED, DUPLICATE or REJECTED). */
  private async replaySegment(segment: SpoolSegment, logFailure: boolean): Promise<boolean> {
    let acked = this.replayAcked.get(segment.name);
    if (acked === undefined) {
      acked = new Set();
      this.replayAcked.set(segment.name, acked);
    }
    const unsent = segment.events
      .filter((event) => !acked.has(event.eventId))
      .map((event) => ({ event, bytes: TurnEvent.encode(event).finish().length }));
    // One batch at a time: the spool's order is the order audit should see.
    for (const batch of batchByIdentity(unsent, this.maxBatch, this.maxBatchBytes)) {
      if (this.replayStopped()) {
        return false;
      }
      let response: PublishResponse;
      try {
        response = await this.call(batch.items.map((item) => item.event));
      } catch (error) {
        if (logFailure) {
          this.logCallFailure(
            error,
            { events: batch.items.length, attempts: 1 },
            'audit spool replay waits for audit',
          );
        }
        return false;
      }
      const missing = new Set(this.applyResults(batch.items, response).map((item) => item.event.eventId));
      for (const item of batch.items) {
        if (!missing.has(item.event.eventId)) {
          acked.add(item.event.eventId);
        }
      }
      if (missing.size > 0) {
        return false;
      }
    }
    if (segment.corruptLines > 0) {
      this.counts.dropped += segment.corruptLines;
      this.logger.error(
        { segment: segment.name, lines: segment.corruptLines },
        'audit spool segment had unreadable lines (a write torn by a crash); those events are lost',
      );
    }
    return true;
  }

  /** One `Publish` call for events of a single (tenant, user), with a fresh principal for them. */
  private call(events: TurnEvent[]): Promise<PublishResponse> {
    const first = events[0];
    if (first === undefined) {
      return Promise.resolve({ results: [] });
    }
    return new Promise((resolve, reject) => {
      this.grpc.publish(
        { events },
        this.principalMetadata(first.tenantId, first.userId),
        { deadline: Date.now() + this.callTimeoutMs },
        (error, response) => {
          if (error) {
            reject(error);
          } else {
            resolve(response);
          }
        },
      );
    });
  }

  /** Uploads a checked body, retrying transient failures; the body itself never reaches a log. */
  private async upload(artifact: PreparedArtifact): Promise<{ sha256: string; size: number }> {
    const fields = artifactLogFields(artifact);
    for (let attempt = 0; ; attempt += 1) {
      let response: PutArtifactResponse;
      try {
        response = await this.streamArtifact(artifact);
      } catch (error) {
        const code = grpcCode(error);
        if (code !== undefined && isRetryableStatus(code) && attempt < this.maxRetries) {
          await sleep(backoffDelay(attempt, this.backoff));
          continue;
        }
        this.logCallFailure(error, { ...fields, attempts: attempt + 1 }, 'audit did not store an artifact');
        throw new AuditClientError(
          'audit_unavailable',
          `PutArtifact failed with ${statusName(code)} after ${attempt + 1} attempt(s)`,
        );
      }
      // Audit hashes what it received: another digest means the bytes changed on the way (or under us, if
      // the caller mutated the buffer), and the event's reference would point at nothing.
      if (response.sha256.toLowerCase() !== artifact.sha256 || response.size !== artifact.body.length) {
        this.logger.error(
          { ...fields, stored_size: response.size },
          'audit stored an artifact with another digest than the one sent',
        );
        throw new AuditClientError('artifact_mismatch', `kind ${artifact.header.kind}`);
      }
      return { sha256: artifact.sha256, size: artifact.body.length };
    }
  }

  /** One `PutArtifact` call: the header, then the body in chunks, honouring the stream's backpressure. */
  private streamArtifact(artifact: PreparedArtifact): Promise<PutArtifactResponse> {
    const { header, body } = artifact;
    const metadata = this.principalMetadata(header.tenantId, artifact.userId);
    return new Promise((resolve, reject) => {
      let finished = false;
      const stream = this.grpc.putArtifact(
        metadata,
        { deadline: Date.now() + this.callTimeoutMs },
        (error, response) => {
          finished = true;
          if (error) {
            reject(error);
          } else {
            resolve(response);
          }
        },
      );
      // The outcome always arrives through the callback; an unheard 'error' event would crash the process.
      stream.on('error', () => undefined);
      stream.write({ payload: { $case: 'header', value: header } });
      let offset = 0;
      const pump = (): void => {
        // Once audit has answered (an early refusal, the deadline) there is no one left to send to.
        while (!finished && offset < body.length) {
          const end = Math.min(offset + ARTIFACT_CHUNK_BYTES, body.length);
          const chunk = body.subarray(offset, end);
          offset = end;
          if (!stream.write({ payload: { $case: 'chunk', value: chunk } })) {
            stream.once('drain', pump);
            return;
          }
        }
        if (!finished) {
          stream.end();
        }
      };
      pump();
    });
  }

  /**
   * `aibox-principal` metadata for a (tenant, user), as audit checks on every call. A signed principal lives
   * 60 s; one is reused for {@link PRINCIPAL_REUSE_MS}, so a busy service signs once per identity and half
   * minute instead of once per call.
   */
  private principalMetadata(tenantId: string, userId: string): Metadata {
    const key = `${tenantId}\u0000${userId}`;
    const now = Date.now();
    let cached = this.principals.get(key);
    if (cached === undefined || cached.signedAt + PRINCIPAL_REUSE_MS <= now) {
      cached = {
        token: signPrincipal(
          {
            tid: tenantId,
            uid: userId,
            email: '',
            roles: ['service'],
            iss: INTERNAL_PRINCIPAL_ISSUER,
            sub: this.service,
          },
          this.keys,
        ),
        signedAt: now,
      };
      // Bounded: identities not seen for a while make room.
      if (this.principals.size >= MAX_CACHED_PRINCIPALS) this.principals.clear();
      this.principals.set(key, cached);
    }
    const metadata = new Metadata();
    metadata.set(GRPC_METADATA.principal, cached.token);
    return metadata;
  }

  private logCallFailure(error: unknown, context: Record<string, unknown>, message: string): void {
    const fields: Record<string, unknown> = { ...context, error: describeError(error) };
    const code = grpcCode(error);
    if (code !== undefined) {
      fields['grpc_code'] = code;
      const details = errorDetails(error);
      if (details?.reason !== undefined) {
        fields['reason'] = details.reason;
      }
    }
    if (code !== undefined && isRetryableStatus(code)) {
      this.logger.warn(fields, message);
    } else {
      this.logger.error(fields, message);
    }
  }
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

function logFields(event: TurnEvent): Record<string, unknown> {
  return { event_id: event.eventId, turn_id: event.turnId, tenant_id: event.tenantId, type: event.type };
}

/** Ids, kind and size: enough to find the body's event, nothing of the body. */
function artifactLogFields(artifact: PreparedArtifact): Record<string, unknown> {
  return {
    event_id: artifact.header.eventId,
    turn_id: artifact.header.turnId,
    tenant_id: artifact.header.tenantId,
    kind: artifact.header.kind,
    size: artifact.body.length,
  };
}

function statusName(code: number | undefined): string {
  if (code === undefined) {
    return 'an error without a gRPC status';
  }
  const name: unknown = status[code];
  return typeof name === 'string' ? name : `status ${code}`;
}

function grpcCode(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'number') {
    return error.code;
  }
  return undefined;
}

function errorDetails(error: unknown): ReturnType<typeof decodeErrorDetails> {
  if (
    typeof error !== 'object' ||
    error === null ||
    !('metadata' in error) ||
    !(error.metadata instanceof Metadata)
  ) {
    return undefined;
  }
  const [value] = error.metadata.get(GRPC_STATUS_DETAILS_KEY);
  return Buffer.isBuffer(value) ? decodeErrorDetails(value) : undefined;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    return 'code' in error && typeof error.code === 'string'
      ? `${error.code}: ${error.message}`
      : error.message;
  }
  return String(error);
}
