/** Every way the dev runner can refuse to start or lose the mesh. Codes are stable; messages are for humans. */
export type DevRunnerErrorCode =
  | 'service_invalid'
  | 'service_not_built'
  | 'dev_keys_invalid'
  | 'port_taken'
  | 'service_exited'
  | 'service_not_ready'
  | 'start_aborted';

function describe(code: DevRunnerErrorCode): string {
  switch (code) {
    case 'service_invalid':
      return 'A service package does not describe itself the way the dev runner needs';
    case 'service_not_built':
      return 'A service has not been built';
    case 'dev_keys_invalid':
      return 'The development keys file cannot be used';
    case 'port_taken':
      return 'A port the mesh needs is already in use';
    case 'service_exited':
      return 'A service exited';
    case 'service_not_ready':
      return 'A service did not become ready';
    case 'start_aborted':
      return 'Starting the mesh was interrupted';
  }
}

/** Details a caller may want to show or assert on beyond the message. */
export interface DevRunnerErrorDetails {
  /** The service the error is about, when there is one. */
  readonly service?: string;
  /** The service's last output lines (rendered, without prefix or colour), for `service_exited`/`service_not_ready`. */
  readonly lastLines?: readonly string[];
  /** The ports that were found in use, for `port_taken`. */
  readonly ports?: readonly number[];
}

/** The one error the dev runner throws for an expected failure; the message may span several lines. */
export class DevRunnerError extends Error {
  override readonly name = 'DevRunnerError';
  readonly code: DevRunnerErrorCode;
  readonly details: DevRunnerErrorDetails;

  constructor(code: DevRunnerErrorCode, detail: string, details: DevRunnerErrorDetails = {}) {
    super(`${describe(code)}: ${detail}`);
    this.code = code;
    this.details = details;
  }
}
