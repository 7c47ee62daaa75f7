export {
  Artifact,
  PublishRequest,
  PublishResponse,
  PublishResult,
  PublishStatus,
  PutArtifactHeader,
  PutArtifactRequest,
  PutArtifactResponse,
  TurnEvent,
  TurnEventServiceClient,
  TurnEventServiceService,
  publishStatusFromJSON,
  publishStatusToJSON,
} from './gen/aibox/v1/turn_events.js';
export type { TurnEventServiceServer } from './gen/aibox/v1/turn_events.js';
export { AuditServiceClient, AuditServiceService, LogRequest, LogResponse } from './gen/aibox/v1/audit.js';
export type { AuditServiceServer } from './gen/aibox/v1/audit.js';
export { PageRequest, PageResponse } from './gen/aibox/v1/common.js';
export {
  CreateSandboxRequest,
  CreateSandboxResponse,
  DeleteSandboxRequest,
  DeleteSandboxResponse,
  ExecRequest,
  ExecResponse,
  GetSandboxRequest,
  GetSandboxResponse,
  Sandbox,
  SandboxEvent,
  SandboxFailure,
  SandboxServiceClient,
  SandboxServiceService,
  SandboxSnapshot,
  SubscribeRequest,
  SubscribeResponse,
} from './gen/aibox/v1/sandbox.js';
export type { SandboxServiceServer } from './gen/aibox/v1/sandbox.js';
export {
  HealthCheckRequest,
  HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthClient,
  HealthListRequest,
  HealthListResponse,
  HealthService,
} from './gen/grpc/health/v1/health.js';
export type { HealthServer } from './gen/grpc/health/v1/health.js';
export { ErrorInfo } from './gen/google/rpc/error_details.js';
export { Status as RpcStatus } from './gen/google/rpc/status.js';
export { PROTO_FILES, PROTO_INCLUDE_DIRS, PROTO_ROOT } from './proto-paths.js';
export {
  fromProtoStruct,
  fromProtoValue,
  toProtoStruct,
  toProtoTimestamp,
  toProtoValue,
} from './proto-json.js';
export type { ProtoStruct, ProtoTimestamp, ProtoValue } from './proto-json.js';
export { TURN_EVENT_TYPES, isTurnEventType } from './turn-event-types.js';
export type { TurnEventType } from './turn-event-types.js';
export { GRPC_STATUS_DETAILS_KEY, decodeErrorDetails, encodeErrorDetails } from './rpc-status.js';
export type { ErrorDetails, ErrorDetailsInput } from './rpc-status.js';
