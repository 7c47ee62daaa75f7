import { Observable } from 'rxjs';
import { z } from 'zod';

import {
  fromProtoStruct,
  toProtoStruct,
  toProtoTimestamp,
  type ProtoStruct,
  type ProtoTimestamp,
} from '@aibox/contracts';
import { isUuid } from '@aibox/identity';

import { execBody, sandboxSpec } from '../dtos/sandbox.dto.js';
import type { SandboxEvent } from '../repositories/sandbox.repository.js';
import type { EventSubscription } from '../services/event-stream.js';
import type { ExecView, ExecWaitAnswer } from '../services/exec.service.js';
import type { SandboxView } from '../services/sandbox.service.js';

// Requests of `aibox.v1.SandboxService` (proto/aibox/v1/sandbox.proto), validated by the HTTP API's rules.

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A request as proto-loader hands it over (camelCase names, every unset field filled with its default) back
 * to the proto's own field names with unset fields absent, so that the HTTP API's schemas apply as they are
 * and a refusal names the field as the caller spelled it (`timeout_s`, not `timeoutS`).
 */
function fromWire(message: unknown): unknown {
  if (!isRecord(message)) return message;
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(message)) {
    if (value === null || value === '' || value === 0 || value === false) continue;
    fields[name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)] = value;
  }
  return fields;
}

const sandboxId = z
  .string()
  .refine((id) => isUuid(id), 'must be a UUID')
  .transform((id) => id.toLowerCase());

/** A `google.protobuf.Struct` as the JSON object it carries. */
const jsonObject = z.unknown().transform((value, context) => {
  const json = fromProtoStruct(value);
  if (json === undefined) {
    context.addIssue({ code: 'custom', message: 'must be a JSON object' });
    return z.NEVER;
  }
  return json;
});

export const createSandboxRequest = z.preprocess(
  fromWire,
  z
    .strictObject({
      spec: jsonObject.pipe(sandboxSpec).optional(),
      // The rule of the HTTP `Idempotency-Key` header.
      idempotency_key: z
        .string()
        .regex(/^[\x21-\x7e]{1,200}$/, 'must be 1–200 visible ASCII characters')
        .optional(),
    })
    .transform(({ spec, idempotency_key }) => ({ spec: spec ?? {}, idempotencyKey: idempotency_key })),
);
export type CreateSandboxCall = z.output<typeof createSandboxRequest>;

/** `GetSandboxRequest`, `DeleteSandboxRequest`. */
export const sandboxRequest = z.preprocess(
  fromWire,
  z.strictObject({ sandbox_id: sandboxId }).transform(({ sandbox_id }) => ({ sandboxId: sandbox_id })),
);
export type SandboxCall = z.output<typeof sandboxRequest>;

export const execRequest = z.preprocess(
  fromWire,
  execBody
    .extend({ sandbox_id: sandboxId, wait: z.boolean().optional() })
    .transform(({ sandbox_id, wait, ...body }) => ({ sandboxId: sandbox_id, wait: wait === true, body })),
);
export type ExecCall = z.output<typeof execRequest>;

export const subscribeRequest = z.preprocess(
  fromWire,
  z
    .strictObject({
      sandbox_id: sandboxId,
      after_seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    })
    .transform(({ sandbox_id, after_seq }) => ({ sandboxId: sandbox_id, afterSeq: after_seq ?? 0 })),
);
export type SubscribeCall = z.output<typeof subscribeRequest>;

// Responses, in the shape proto-loader serializes (camelCase names, Struct and Timestamp spelled out).

export interface WireSandbox {
  id: string;
  name: string;
  labels: Record<string, string>;
  runtime: string;
  state: string;
  error: { code: string; message: string } | null;
  spec: ProtoStruct;
  expiresAt: ProtoTimestamp | null;
  createdAt: ProtoTimestamp;
  updatedAt: ProtoTimestamp;
}

export interface WireSandboxEvent {
  seq: number;
  type: string;
  at: ProtoTimestamp;
  data: ProtoStruct;
}

export interface WireExecResponse {
  id: string;
  status: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
}

export type WireSubscribeResponse =
  { snapshot: { sandbox: WireSandbox; seq: number } } | { event: WireSandboxEvent };

export function wireSandbox(view: SandboxView): WireSandbox {
  return {
    id: view.id,
    name: view.name,
    labels: { ...view.labels },
    runtime: view.runtime,
    state: view.state,
    error: view.error,
    spec: toProtoStruct(isRecord(view.spec) ? view.spec : {}),
    expiresAt: view.expires_at === null ? null : toProtoTimestamp(view.expires_at),
    createdAt: toProtoTimestamp(view.created_at),
    updatedAt: toProtoTimestamp(view.updated_at),
  };
}

export function wireEvent(event: SandboxEvent): WireSandboxEvent {
  return {
    seq: event.seq,
    type: event.type,
    at: toProtoTimestamp(event.at),
    data: toProtoStruct(event.data),
  };
}

/** A started exec (no output yet) or a waited-for one (the HTTP `?wait=true` answer). */
export function wireExec(exec: ExecView | ExecWaitAnswer): WireExecResponse {
  const output = 'stdout' in exec ? exec : undefined;
  return {
    id: exec.id,
    status: exec.status,
    exitCode: exec.exit_code,
    stdout: output?.stdout ?? '',
    stderr: output?.stderr ?? '',
    stdoutTruncated: output?.stdout_truncated ?? false,
    stderrTruncated: output?.stderr_truncated ?? false,
  };
}

/**
 * An {@link EventSubscription} as a server stream, in the order of the SSE route: the snapshot, the stored
 * events after the one asked for, then each new event as it is committed. The subscription opens when the
 * stream is subscribed to and closes when the call ends (or, opened too late, at once).
 */
export function subscriptionStream(
  open: () => Promise<EventSubscription>,
): Observable<WireSubscribeResponse> {
  return new Observable<WireSubscribeResponse>((subscriber) => {
    let ended = false;
    let stop: (() => void) | undefined;
    const send = (event: SandboxEvent): void => {
      subscriber.next({ event: wireEvent(event) });
    };
    void open().then(
      (subscription) => {
        if (!ended) {
          const { sandbox, seq } = subscription.snapshot;
          subscriber.next({ snapshot: { sandbox: wireSandbox(sandbox), seq } });
          for (const event of subscription.history) send(event);
        }
        const unsubscribe = subscription.follow(send);
        if (ended) unsubscribe();
        else stop = unsubscribe;
      },
      (error: unknown) => {
        subscriber.error(error);
      },
    );
    return () => {
      ended = true;
      stop?.();
    };
  });
}
