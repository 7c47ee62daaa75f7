/** Why a provider's registration was refused; the message is safe to show (never a key). */
export type ProviderConfigErrorCode =
  | 'base_url_invalid'
  | 'credentials_key_invalid'
  | 'credential_unreadable'
  | 'provider_unreachable'
  | 'provider_redirect'
  | 'provider_rejected';

export class ProviderConfigError extends Error {
  override readonly name = 'ProviderConfigError';

  constructor(
    readonly code: ProviderConfigErrorCode,
    message: string,
  ) {
    super(message);
  }
}
