import { status as GrpcStatus } from '@grpc/grpc-js';

import { ServiceError, type ErrorDescription, type ServiceErrorOptions } from '@aibox/platform';

/** agent-runtime's codes; the README lists them. Messages are shown to users. */
export type RuntimeErrorCode =
  | 'conversation_unknown'
  | 'message_unknown'
  | 'turn_unknown'
  | 'turn_not_running'
  | 'agent_unknown'
  | 'agent_name_taken'
  | 'skill_unknown'
  | 'skill_invalid'
  | 'skill_name_taken'
  | 'approval_unknown'
  | 'approval_decided'
  | 'attachment_unsupported'
  | 'tool_unknown'
  | 'mcp_forbidden'
  | 'replay_unavailable';

function described(message: string, httpStatus: number, grpcStatus: GrpcStatus): ErrorDescription {
  return { message, httpStatus, grpcStatus };
}

export function describeRuntimeError(code: RuntimeErrorCode): ErrorDescription {
  switch (code) {
    case 'conversation_unknown':
      return described('No such conversation', 404, GrpcStatus.NOT_FOUND);
    case 'message_unknown':
      return described('No such message in this conversation', 404, GrpcStatus.NOT_FOUND);
    case 'turn_unknown':
      return described('No such turn', 404, GrpcStatus.NOT_FOUND);
    case 'turn_not_running':
      return described('The turn is not running', 409, GrpcStatus.FAILED_PRECONDITION);
    case 'agent_unknown':
      return described('No such agent', 404, GrpcStatus.NOT_FOUND);
    case 'agent_name_taken':
      return described('An agent with this name exists', 409, GrpcStatus.ALREADY_EXISTS);
    case 'skill_unknown':
      return described('No such skill', 404, GrpcStatus.NOT_FOUND);
    case 'skill_invalid':
      return described('The skill is not valid', 400, GrpcStatus.INVALID_ARGUMENT);
    case 'skill_name_taken':
      return described('A skill with this name exists', 409, GrpcStatus.ALREADY_EXISTS);
    case 'approval_unknown':
      return described('No such approval', 404, GrpcStatus.NOT_FOUND);
    case 'approval_decided':
      return described(
        'The approval was already decided or has expired',
        409,
        GrpcStatus.FAILED_PRECONDITION,
      );
    case 'attachment_unsupported':
      return described('The attachment cannot be used', 400, GrpcStatus.INVALID_ARGUMENT);
    case 'tool_unknown':
      return described('No such tool', 400, GrpcStatus.INVALID_ARGUMENT);
    case 'mcp_forbidden':
      return described('Only an administrator may configure MCP servers', 403, GrpcStatus.PERMISSION_DENIED);
    case 'replay_unavailable':
      return described('The turn cannot be replayed', 409, GrpcStatus.FAILED_PRECONDITION);
  }
}

export class RuntimeError extends ServiceError<RuntimeErrorCode> {
  override readonly name = 'RuntimeError';

  constructor(code: RuntimeErrorCode, detail?: string, options: Omit<ServiceErrorOptions, 'detail'> = {}) {
    super(code, describeRuntimeError(code), { ...options, ...(detail === undefined ? {} : { detail }) });
  }
}

/** HTTP status of a turn that ended with `code` (a router code, or the runtime's own turn codes). */
function turnFailureStatus(code: string): { http: number; grpc: GrpcStatus } {
  switch (code) {
    case 'role_not_configured':
    case 'role_no_backend':
    case 'provider_key_missing':
    case 'backend_unavailable':
      return { http: 503, grpc: GrpcStatus.UNAVAILABLE };
    case 'rate_limited':
      return { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED };
    case 'budget_exceeded':
      return { http: 402, grpc: GrpcStatus.RESOURCE_EXHAUSTED };
    case 'model_unknown':
    case 'invalid_request':
      return { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT };
    case 'turn_cancelled':
      return { http: 409, grpc: GrpcStatus.CANCELLED };
    case 'turn_token_limit':
      return { http: 422, grpc: GrpcStatus.RESOURCE_EXHAUSTED };
    case 'internal':
      return { http: 500, grpc: GrpcStatus.INTERNAL };
    default:
      return { http: 502, grpc: GrpcStatus.UNAVAILABLE };
  }
}

/** A whole-answer turn (`POST /v1/chat`) that did not end with an answer: the turn's own code and message. */
export class TurnFailedError extends ServiceError {
  override readonly name = 'TurnFailedError';

  constructor(code: string, message: string) {
    const status = turnFailureStatus(code);
    super(code, { message, httpStatus: status.http, grpcStatus: status.grpc });
  }
}
