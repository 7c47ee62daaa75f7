/** Why an `aibox` command failed; the message is what the user reads, one line. */
export type CliErrorCode =
  'usage' | 'not_signed_in' | 'issuer_unreachable' | 'login_failed' | 'gateway_failed';

export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    readonly code: CliErrorCode,
    message: string,
  ) {
    super(message);
  }

  /** The process exit status: 2 for usage errors, 1 otherwise. */
  get exitCode(): number {
    return this.code === 'usage' ? 2 : 1;
  }
}
