/**
 * `invalid`: a setting has a value the service cannot use. `refused`: the value is well-formed but the
 * service will not run with it (ARCHITECTURE §3: auth disabled, dev keys, short keys in production…).
 */
export type ConfigErrorKind = 'invalid' | 'refused';

/**
 * The one error configuration loading throws. Its message is a single line naming the setting,
 * `config error: PORT: expected an integer between 1 and 64535`, and never contains a secret value.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly setting: string;
  readonly reason: string;
  readonly kind: ConfigErrorKind;

  constructor(setting: string, reason: string, kind: ConfigErrorKind = 'invalid') {
    super(`config error: ${setting}: ${reason}`);
    this.setting = setting;
    this.reason = reason;
    this.kind = kind;
  }
}
