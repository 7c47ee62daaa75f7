import { credentials as grpcCredentials, type ChannelCredentials } from '@grpc/grpc-js';

import type { KeySet } from '@aibox/identity';

import { AuditClientError } from './audit-client.error.js';
import type { Backoff } from './batching.js';

/** pino-compatible: `logger.warn({ ...details }, 'message')`. */
export interface AuditClientLogger {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

export interface AuditClientOptions {
  /** Audit's gRPC address, `host:port` (e.g. `127.0.0.1:9008`). */
  target: string;
  /** The publishing service's name: the principal's `sub`, and `TurnEvent.service` when an event leaves it empty. */
  service: string;
  /** `AIBOX_PRINCIPAL_KEYS`, parsed: each call carries a principal signed with its signing key. */
  principalKeys: KeySet;
  /** Directory of this process's spool (one process per directory). Created when missing. */
  spoolDir: string;
  /** Most events per `Publish` call. Default 256. */
  maxBatch?: number;
  /** Most encoded bytes per `Publish` call; a single larger event is rejected as `event_too_large`. Default 1 MiB. */
  maxBatchBytes?: number;
  /** Longest wait before a partial batch is sent. Default 25 ms. */
  flushIntervalMs?: number;
  /** Retries of a call failing with UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED before spooling. Default 5. */
  maxRetries?: number;
  /** Exponential backoff with jitter, for retries, spool replay and gRPC reconnects. Default 100 ms to 5 s. */
  backoff?: Backoff;
  /** Bound of the on-disk spool; beyond it new events are dropped, counted and logged. Default 64 MiB. */
  spoolMaxBytes?: number;
  /** Deadline of each `Publish` call. Default 5 s. */
  callTimeoutMs?: number;
  /** Where warnings and errors go; default JSON lines on stderr. */
  logger?: AuditClientLogger;
  /** Channel credentials; default insecure (the mesh's internal network). */
  credentials?: ChannelCredentials;
}

export const MIB = 1024 * 1024;
const DEFAULTS = {
  maxBatch: 256,
  maxBatchBytes: MIB,
  flushIntervalMs: 25,
  maxRetries: 5,
  backoff: { baseMs: 100, maxMs: 5000 },
  spoolMaxBytes: 64 * MIB,
  callTimeoutMs: 5000,
} as const;

const stderrLogger: AuditClientLogger = {
  warn: (details, message) => {
    process.stderr.write(
      `${JSON.stringify({ level: 'warn', component: 'audit-client', msg: message, ...details })}\n`,
    );
  },
  error: (details, message) => {
    process.stderr.write(
      `${JSON.stringify({ level: 'error', component: 'audit-client', msg: message, ...details })}\n`,
    );
  },
};

export interface ValidOptions extends Required<
  Omit<AuditClientOptions, 'logger' | 'credentials' | 'backoff'>
> {
  logger: AuditClientLogger;
  credentials: ChannelCredentials;
  backoff: Backoff;
}

/** Applies defaults and checks every option, failing with `options_invalid` naming the first bad one. */
export function validateOptions(options: AuditClientOptions): ValidOptions {
  const fail = (detail: string): never => {
    throw new AuditClientError('options_invalid', detail);
  };
  const integer = (
    name: string,
    value: number | undefined,
    fallback: number,
    min: number,
    max: number,
  ): number => {
    const v = value ?? fallback;
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      fail(`${name} must be an integer from ${min} to ${max}`);
    }
    return v;
  };
  for (const name of ['target', 'service', 'spoolDir'] as const) {
    if (!nonEmpty(options[name])) {
      fail(`${name} must be a non-empty string`);
    }
  }
  if (
    typeof options.principalKeys !== 'object' ||
    !options.principalKeys.keys.has(options.principalKeys.signingKid)
  ) {
    fail('principalKeys must be a key set from parseKeySet');
  }
  const backoff = options.backoff ?? DEFAULTS.backoff;
  const baseMs = integer('backoff.baseMs', backoff.baseMs, DEFAULTS.backoff.baseMs, 1, 60_000);
  const maxMs = integer('backoff.maxMs', backoff.maxMs, DEFAULTS.backoff.maxMs, baseMs, 600_000);
  return {
    target: options.target,
    service: options.service,
    principalKeys: options.principalKeys,
    spoolDir: options.spoolDir,
    maxBatch: integer('maxBatch', options.maxBatch, DEFAULTS.maxBatch, 1, 10_000),
    // gRPC servers accept 4 MiB messages by default; leave room for the rest of the request.
    maxBatchBytes: integer('maxBatchBytes', options.maxBatchBytes, DEFAULTS.maxBatchBytes, 1024, 3 * MIB),
    flushIntervalMs: integer('flushIntervalMs', options.flushIntervalMs, DEFAULTS.flushIntervalMs, 0, 60_000),
    maxRetries: integer('maxRetries', options.maxRetries, DEFAULTS.maxRetries, 0, 100),
    backoff: { baseMs, maxMs },
    spoolMaxBytes: integer('spoolMaxBytes', options.spoolMaxBytes, DEFAULTS.spoolMaxBytes, 1024, 2 ** 40),
    callTimeoutMs: integer('callTimeoutMs', options.callTimeoutMs, DEFAULTS.callTimeoutMs, 1, 600_000),
    logger: options.logger ?? stderrLogger,
    credentials: options.credentials ?? grpcCredentials.createInsecure(),
  };
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
