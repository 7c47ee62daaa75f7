import { status as GrpcStatus } from '@grpc/grpc-js';

import { ServiceError, type ErrorDescription, type ServiceErrorOptions } from '@aibox/platform';

/** The router's own codes (README: Error codes); messages are safe to show, never a key. */
export type ProviderConfigErrorCode =
  | 'base_url_invalid'
  | 'credentials_key_invalid'
  | 'credential_unreadable'
  | 'provider_unreachable'
  | 'provider_redirect'
  | 'provider_rejected'
  | 'provider_not_found'
  | 'provider_exists'
  | 'provider_in_use'
  | 'role_unknown'
  | 'model_unknown'
  | 'budget_not_found';

function described(message: string, httpStatus: number): ErrorDescription {
  const grpcStatus =
    httpStatus === 404
      ? GrpcStatus.NOT_FOUND
      : httpStatus === 409
        ? GrpcStatus.ALREADY_EXISTS
        : httpStatus >= 500
          ? GrpcStatus.INTERNAL
          : GrpcStatus.INVALID_ARGUMENT;
  return { message, httpStatus, grpcStatus };
}

export function describeProviderConfigError(code: ProviderConfigErrorCode): ErrorDescription {
  switch (code) {
    case 'base_url_invalid':
      return described('The base URL is not usable', 400);
    case 'credentials_key_invalid':
      return described('AIBOX_CREDENTIALS_KEY is not a 32-byte key', 500);
    case 'credential_unreadable':
      return described('A stored provider key cannot be decrypted', 500);
    case 'provider_unreachable':
      return described('The provider could not be reached', 400);
    case 'provider_redirect':
      return described('The provider redirects, and redirects are never followed', 400);
    case 'provider_rejected':
      return described('The provider did not answer a model list', 400);
    case 'provider_not_found':
      return described('No provider has this name', 404);
    case 'provider_exists':
      return described('A provider with this name exists', 409);
    case 'provider_in_use':
      return described('The provider is still named by a role', 409);
    case 'role_unknown':
      return described('No such role', 404);
    case 'model_unknown':
      return described('The model names no known provider', 400);
    case 'budget_not_found':
      return described('No such budget', 404);
  }
}

export class ProviderConfigError extends ServiceError<ProviderConfigErrorCode> {
  override readonly name = 'ProviderConfigError';

  /** `detail` is shown after the code's sentence. */
  constructor(
    code: ProviderConfigErrorCode,
    detail?: string,
    options: Omit<ServiceErrorOptions, 'detail'> = {},
  ) {
    super(code, describeProviderConfigError(code), {
      ...options,
      ...(detail === undefined ? {} : { detail }),
    });
  }
}
