import { createHash } from 'node:crypto';

import type { PutArtifactHeader, TurnEvent } from '@aibox/contracts';
import { isUuid } from '@aibox/identity';

import { AuditClientError } from './audit-client.error.js';

/** One body captured for an event, to upload with `AuditClient.putArtifact`. */
export interface ArtifactUpload {
  /** The turn the body belongs to (a UUID, as audit requires). */
  turnId: string;
  /** Tenant of the turn: the principal of the upload is signed for it. */
  tenantId: string;
  /** User on whose behalf the turn runs: the principal's `uid`. */
  userId: string;
  /** The event the body belongs to (a UUID, as audit requires). */
  eventId: string;
  /** Role of the body within its event, e.g. `prompt`; `[a-z][a-z0-9_]{0,31}`, the event's `Artifact.kind`. */
  kind: string;
  /** MIME type of the body, e.g. `application/json`; empty means `application/octet-stream`, as in audit. */
  contentType: string;
  /** The body; a string is sent as its UTF-8 bytes. */
  body: Uint8Array | string;
}

/** A reference an event carries for a body, as in `TurnEvent.artifacts`. */
export type ArtifactRef = TurnEvent['artifacts'][number];

/** Bytes per `PutArtifact` chunk message: large bodies never sit whole in one gRPC message. */
export const ARTIFACT_CHUNK_BYTES = 64 * 1024;

// The patterns audit checks (artifact service and event normalizer): refusing here saves a call that cannot succeed.
const KIND = /^[a-z][a-z0-9_]{0,31}$/;
const CONTENT_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}(;[ -~]{0,200})?$/i;
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** A checked upload: its header, its bytes and their digest, computed once for every attempt. */
export interface PreparedArtifact {
  readonly header: PutArtifactHeader;
  readonly userId: string;
  readonly body: Buffer;
  readonly sha256: string;
}

/**
 * The reference an event carries for a body (kind, lowercase hex sha256, size, content type), computed
 * locally, so a service can put it in the event it enqueues and upload the body separately: audit links
 * the two by digest, in either order. Throws `AuditClientError('artifact_invalid')` for a kind or content
 * type audit would refuse, or a body that is neither bytes nor a string.
 */
export function artifactRef(kind: string, body: Uint8Array | string, contentType: string): ArtifactRef {
  const problem = kindProblem(kind) ?? contentTypeProblem(contentType) ?? bodyProblem(body);
  if (problem !== undefined) {
    throw new AuditClientError('artifact_invalid', problem);
  }
  const bytes = bodyBytes(body);
  return { kind, sha256: sha256Hex(bytes), size: bytes.length, contentType: withDefault(contentType) };
}

/** Checks an upload the way audit will, failing with `artifact_invalid` naming the first problem. */
export function prepareArtifact(upload: ArtifactUpload): PreparedArtifact {
  // Callers may be untyped JavaScript: check what signing and audit rely on before touching the fields.
  const untyped: unknown = upload;
  if (typeof untyped !== 'object' || untyped === null) {
    throw new AuditClientError('artifact_invalid', 'the upload must be an object');
  }
  const { turnId, tenantId, userId, eventId, kind, contentType, body } = upload;
  const problem =
    (isUuid(turnId) ? undefined : 'turnId must be a UUID') ??
    (isUuid(eventId) ? undefined : 'eventId must be a UUID') ??
    (nonEmpty(tenantId) ? undefined : 'tenantId must be a non-empty string') ??
    (nonEmpty(userId) ? undefined : 'userId must be a non-empty string') ??
    kindProblem(kind) ??
    contentTypeProblem(contentType) ??
    bodyProblem(body);
  if (problem !== undefined) {
    throw new AuditClientError('artifact_invalid', problem);
  }
  const bytes = bodyBytes(body);
  return {
    header: { tenantId, turnId, eventId, kind, contentType: withDefault(contentType) },
    userId,
    body: bytes,
    sha256: sha256Hex(bytes),
  };
}

function kindProblem(kind: unknown): string | undefined {
  return typeof kind === 'string' && KIND.test(kind) ? undefined : 'kind must match [a-z][a-z0-9_]{0,31}';
}

function contentTypeProblem(contentType: unknown): string | undefined {
  return typeof contentType === 'string' && (contentType === '' || CONTENT_TYPE.test(contentType))
    ? undefined
    : 'contentType must be a media type such as application/json';
}

function bodyProblem(body: unknown): string | undefined {
  return typeof body === 'string' || body instanceof Uint8Array
    ? undefined
    : 'body must be a Uint8Array or a string';
}

function withDefault(contentType: string): string {
  return contentType === '' ? DEFAULT_CONTENT_TYPE : contentType;
}

/** The body as a Buffer: a view of the caller's bytes (no copy), or a string's UTF-8 encoding. */
function bodyBytes(body: Uint8Array | string): Buffer {
  return typeof body === 'string'
    ? Buffer.from(body, 'utf8')
    : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
