export { AuditClient } from './audit-client.js';
export type { AuditClientLogger, AuditClientOptions } from './audit-client.options.js';
export type { AuditClientStats, CapturedBody, LocalRejectCode, TurnEventInput } from './audit-client.js';
export { AuditClientError } from './audit-client.error.js';
export type { AuditClientErrorCode } from './audit-client.error.js';
export { ARTIFACT_CHUNK_BYTES, artifactRef } from './artifact.js';
export type { ArtifactRef, ArtifactUpload } from './artifact.js';
export type { Backoff } from './batching.js';
