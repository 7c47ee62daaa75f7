import { status as GrpcStatus } from '@grpc/grpc-js';

import { ServiceError, type ErrorDescription, type ServiceErrorOptions } from '@aibox/platform';

/** code-sandbox's codes; the README lists them. Messages are shown to callers. */
export type SandboxErrorCode =
  | 'sandbox_unknown'
  | 'sandbox_not_ready'
  | 'runtime_unavailable'
  | 'feature_unavailable'
  | 'idempotency_conflict'
  | 'quota_exceeded'
  | 'exec_unknown'
  | 'exec_not_running'
  | 'path_invalid'
  | 'path_not_found'
  | 'path_is_directory'
  | 'path_not_directory'
  | 'file_too_large'
  | 'archive_invalid'
  | 'mount_not_allowed'
  | 'mount_source_invalid'
  | 'git_url_refused';

function described(message: string, httpStatus: number, grpcStatus: GrpcStatus): ErrorDescription {
  return { message, httpStatus, grpcStatus };
}

export function describeSandboxError(code: SandboxErrorCode): ErrorDescription {
  switch (code) {
    case 'sandbox_unknown':
      return described('No such sandbox', 404, GrpcStatus.NOT_FOUND);
    case 'sandbox_not_ready':
      return described('The sandbox is not ready', 409, GrpcStatus.FAILED_PRECONDITION);
    case 'runtime_unavailable':
      return described('This machine cannot run the requested runtime', 503, GrpcStatus.UNAVAILABLE);
    case 'feature_unavailable':
      return described(
        'The sandbox asks for something this service does not provide yet',
        400,
        GrpcStatus.UNIMPLEMENTED,
      );
    case 'idempotency_conflict':
      return described(
        'The Idempotency-Key was used for a different request',
        409,
        GrpcStatus.ALREADY_EXISTS,
      );
    case 'quota_exceeded':
      return described("The tenant's sandbox quota is spent", 429, GrpcStatus.RESOURCE_EXHAUSTED);
    case 'exec_unknown':
      return described('No such exec', 404, GrpcStatus.NOT_FOUND);
    case 'exec_not_running':
      return described('The exec is not running', 409, GrpcStatus.FAILED_PRECONDITION);
    case 'path_invalid':
      return described('The path is not allowed', 400, GrpcStatus.INVALID_ARGUMENT);
    case 'path_not_found':
      return described('No such file or directory in the workspace', 404, GrpcStatus.NOT_FOUND);
    case 'path_is_directory':
      return described('The path is a directory', 409, GrpcStatus.FAILED_PRECONDITION);
    case 'path_not_directory':
      return described('The path is not a directory', 409, GrpcStatus.FAILED_PRECONDITION);
    case 'file_too_large':
      return described('The file is larger than this call allows', 413, GrpcStatus.RESOURCE_EXHAUSTED);
    case 'archive_invalid':
      return described('The archive cannot be unpacked into the workspace', 400, GrpcStatus.INVALID_ARGUMENT);
    case 'mount_not_allowed':
      return described(
        'This host path may not be mounted or copied into a sandbox',
        403,
        GrpcStatus.PERMISSION_DENIED,
      );
    case 'mount_source_invalid':
      return described(
        'The host path to mount or copy is missing or of the wrong kind',
        400,
        GrpcStatus.INVALID_ARGUMENT,
      );
    case 'git_url_refused':
      return described('This service does not clone from that URL', 400, GrpcStatus.INVALID_ARGUMENT);
  }
}

export class SandboxError extends ServiceError<SandboxErrorCode> {
  override readonly name = 'SandboxError';

  constructor(code: SandboxErrorCode, detail?: string, options: Omit<ServiceErrorOptions, 'detail'> = {}) {
    super(code, describeSandboxError(code), { ...options, ...(detail === undefined ? {} : { detail }) });
  }
}
