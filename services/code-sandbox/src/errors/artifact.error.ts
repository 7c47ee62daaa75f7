import { status as GrpcStatus } from '@grpc/grpc-js';

import { ServiceError, type ErrorDescription, type ServiceErrorOptions } from '@aibox/platform';

/**
 * Codes of the artifacts API; the README lists them. Messages are shown to callers. Path and size refusals
 * are the files API's (`SandboxError`): an artifact is read from the workspace exactly as a file is.
 */
export type ArtifactErrorCode = 'artifact_unknown' | 'artifact_lost' | 'artifact_store_unavailable';

function described(message: string, httpStatus: number, grpcStatus: GrpcStatus): ErrorDescription {
  return { message, httpStatus, grpcStatus };
}

export function describeArtifactError(code: ArtifactErrorCode): ErrorDescription {
  switch (code) {
    case 'artifact_unknown':
      return described('No such artifact', 404, GrpcStatus.NOT_FOUND);
    case 'artifact_lost':
      return described(
        'The artifact is recorded but its bytes are missing or altered in the object store',
        410,
        GrpcStatus.DATA_LOSS,
      );
    case 'artifact_store_unavailable':
      return described('The object store holding artifacts is unavailable', 503, GrpcStatus.UNAVAILABLE);
  }
}

export class ArtifactError extends ServiceError<ArtifactErrorCode> {
  override readonly name = 'ArtifactError';

  constructor(code: ArtifactErrorCode, detail?: string, options: Omit<ServiceErrorOptions, 'detail'> = {}) {
    super(code, describeArtifactError(code), { ...options, ...(detail === undefined ? {} : { detail }) });
  }
}
