import { canonicalJson } from '@aibox/audit-proof';
import { fromProtoStruct, isTurnEventType } from '@aibox/contracts';
import { isUuid } from '@aibox/identity';

/** Why an event was refused; sent back as `PublishResult.code`. Sending the same event again gives the same. */
export type EventRejectCode =
  | 'event_id_invalid'
  | 'turn_id_invalid'
  | 'tenant_mismatch'
  | 'user_id_invalid'
  | 'service_invalid'
  | 'event_type_unknown'
  | 'occurred_at_invalid'
  | 'attributes_invalid'
  | 'artifact_invalid'
  | 'event_too_large'
  | 'turn_already_sealed'
  | 'turn_too_large'
  | 'user_mismatch'
  | 'turn_user_mismatch';

/** An event as a gRPC handler receives it (proto-loader: camelCase, defaults filled, oneof names set). */
export interface WireTurnEvent {
  eventId?: unknown;
  turnId?: unknown;
  tenantId?: unknown;
  userId?: unknown;
  service?: unknown;
  type?: unknown;
  occurredAt?: unknown;
  attributes?: unknown;
  artifacts?: unknown;
}

/** An artifact reference as it appears in the canonical event. */
export interface ArtifactRef {
  readonly kind: string;
  readonly sha256: string;
  readonly size: number;
  readonly content_type: string;
}

/** The event exactly as it is hashed, stored and shown: the JSON object whose RFC 8785 form is its leaf. */
export interface CanonicalEvent {
  readonly event_id: string;
  readonly turn_id: string;
  readonly tenant_id: string;
  readonly user_id: string;
  readonly service: string;
  readonly type: string;
  readonly occurred_at: string;
  readonly attributes: Record<string, unknown>;
  readonly artifacts: readonly ArtifactRef[];
}

export interface NormalizedEvent {
  readonly event: CanonicalEvent;
  /** `canonicalJson(event)`. */
  readonly canonical: string;
}

export type Normalized =
  | { readonly ok: true; readonly value: NormalizedEvent }
  | { readonly ok: false; readonly code: EventRejectCode };

const SERVICE = /^[a-z][a-z0-9-]{0,63}$/;
const ARTIFACT_KIND = /^[a-z][a-z0-9_]{0,31}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}(;[ -~]{0,200})?$/i;
// eslint-disable-next-line no-control-regex -- what is refused is exactly the control characters.
const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_USER_ID_LENGTH = 256;
const MAX_ARTIFACTS = 32;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Latest accepted `occurred_at`: a publisher's clock may run ahead, but not by this much. */
const MAX_CLOCK_AHEAD_MS = 5 * 60_000;
const EARLIEST = Date.UTC(2000, 0, 1);

/** A `google.protobuf.Timestamp` as proto-loader gives it (`longs: Number`); absent → `now`. */
function timestamp(value: unknown, now: Date): Date | undefined {
  if (value === null || value === undefined) return now;
  if (!isRecord(value)) return undefined;
  const seconds = value['seconds'];
  const nanos = value['nanos'] ?? 0;
  if (typeof seconds !== 'number' || typeof nanos !== 'number') return undefined;
  if (!Number.isSafeInteger(seconds) || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999)
    return undefined;
  const ms = seconds * 1000 + Math.floor(nanos / 1_000_000);
  if (ms < EARLIEST || ms > now.getTime() + MAX_CLOCK_AHEAD_MS) return undefined;
  return new Date(ms);
}

function artifacts(value: unknown): ArtifactRef[] | undefined {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_ARTIFACTS) return undefined;
  const out: ArtifactRef[] = [];
  const kinds = new Set<string>();
  for (const item of value) {
    if (!isRecord(item)) return undefined;
    const { kind, sha256, size, contentType } = item;
    if (typeof kind !== 'string' || !ARTIFACT_KIND.test(kind) || kinds.has(kind)) return undefined;
    if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256.toLowerCase())) return undefined;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return undefined;
    const type = contentType === '' || contentType === undefined ? 'application/octet-stream' : contentType;
    if (typeof type !== 'string' || !CONTENT_TYPE.test(type)) return undefined;
    kinds.add(kind);
    out.push({ kind, sha256: sha256.toLowerCase(), size, content_type: type });
  }
  return out;
}

export interface NormalizeOptions {
  /** The tenant of the caller's principal: every event must belong to it. */
  readonly tenantId: string;
  readonly maxEventBytes: number;
  readonly now: Date;
}

/**
 * Checks one published event and turns it into its canonical form: lower-case ids, `occurred_at` as an
 * RFC 3339 UTC timestamp with milliseconds (a missing one is the commit time), attributes as plain JSON,
 * artifact references with a content type. The first problem found is the answer.
 */
export function normalizeEvent(wire: WireTurnEvent, options: NormalizeOptions): Normalized {
  const fail = (code: EventRejectCode): Normalized => ({ ok: false, code });
  if (!isUuid(wire.eventId)) return fail('event_id_invalid');
  if (!isUuid(wire.turnId)) return fail('turn_id_invalid');
  if (wire.tenantId !== options.tenantId) return fail('tenant_mismatch');
  const userId = wire.userId;
  if (
    typeof userId !== 'string' ||
    userId === '' ||
    userId.length > MAX_USER_ID_LENGTH ||
    CONTROL.test(userId)
  )
    return fail('user_id_invalid');
  if (typeof wire.service !== 'string' || !SERVICE.test(wire.service)) return fail('service_invalid');
  if (typeof wire.type !== 'string' || !isTurnEventType(wire.type)) return fail('event_type_unknown');
  const occurredAt = timestamp(wire.occurredAt, options.now);
  if (occurredAt === undefined) return fail('occurred_at_invalid');
  // An event without attributes has none.
  const attributes =
    wire.attributes === null || wire.attributes === undefined ? {} : fromProtoStruct(wire.attributes);
  if (attributes === undefined) return fail('attributes_invalid');
  const refs = artifacts(wire.artifacts);
  if (refs === undefined) return fail('artifact_invalid');
  const event: CanonicalEvent = {
    event_id: wire.eventId.toLowerCase(),
    turn_id: wire.turnId.toLowerCase(),
    tenant_id: options.tenantId,
    user_id: userId,
    service: wire.service,
    type: wire.type,
    occurred_at: occurredAt.toISOString(),
    attributes,
    artifacts: refs,
  };
  let canonical: string;
  try {
    canonical = canonicalJson(event);
  } catch {
    return fail('attributes_invalid');
  }
  if (new TextEncoder().encode(canonical).length > options.maxEventBytes) return fail('event_too_large');
  return { ok: true, value: { event, canonical } };
}
