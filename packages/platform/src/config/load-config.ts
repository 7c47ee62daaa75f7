import { inspect } from 'node:util';

import type { z } from 'zod';

import { baseConfigSchema, type BaseConfig } from './base-config.schema.js';
import { ConfigError } from './config.error.js';
import { enforceConfigPolicy } from './production-policy.js';
import { isSecretSetting } from './settings.js';

/** The environment as Node hands it out; `process.env` or a test's own record. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** A service's configuration: the base settings plus its own, typed, frozen, parsed once. */
export type PlatformConfig<S extends z.ZodObject = typeof baseConfigSchema> = Readonly<
  BaseConfig & z.output<S>
>;

export interface LoadConfigOptions {
  /** Used for settings the environment leaves unset (the shell always wins), e.g. `{ PORT: '8008' }`. */
  defaults?: Readonly<Record<string, string>>;
}

const REDACTED = '[Redacted]';
const secretNamesByConfig = new WeakMap<object, readonly string[]>();

/** The names of a loaded config's secret settings (for log redaction). */
export function secretSettingNames(config: object): readonly string[] {
  return secretNamesByConfig.get(config) ?? [];
}

/** A copy safe to log: secret settings that are set read `[Redacted]`. */
export function redactConfig(config: object): Record<string, unknown> {
  const secrets = new Set(secretSettingNames(config));
  const view: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(config)) {
    view[name] = secrets.has(name) && value !== undefined ? REDACTED : value;
  }
  return view;
}

function describeIssue(issue: z.core.$ZodIssue, raw: string | undefined): string {
  if (raw === undefined && issue.code === 'invalid_type') {
    return 'is required';
  }
  return issue.message;
}

function deepFreeze<T>(value: T): T {
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

/**
 * Parses the environment with `baseConfigSchema` extended by `schema` (pass `baseConfigSchema` itself for
 * the base settings alone), then applies the refusals of ARCHITECTURE §3. Empty values count as unset.
 * Throws a `ConfigError` naming the first bad setting; the result is frozen and logs without secrets.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Environment,
  opts: LoadConfigOptions = {},
): PlatformConfig<S> {
  const merged = baseConfigSchema.extend(schema.shape);
  const shape: Readonly<Record<string, z.ZodType>> = merged.shape;
  const names = Object.keys(shape);

  const input: Record<string, string | undefined> = {};
  for (const name of names) {
    const value = env[name];
    input[name] = value === undefined || value === '' ? opts.defaults?.[name] : value;
  }

  const result = merged.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    const setting = issue === undefined ? 'environment' : String(issue.path[0] ?? 'environment');
    const reason = issue === undefined ? 'is invalid' : describeIssue(issue, input[setting]);
    throw new ConfigError(setting, reason);
  }

  const config = result.data;
  enforceConfigPolicy(result.data as BaseConfig, input, new Set(names));

  const secrets = names.filter((name) => isSecretSetting(name, shape[name]));
  for (const value of Object.values(config)) deepFreeze(value);
  Object.defineProperties(config, {
    toJSON: { value: () => redactConfig(config), enumerable: false },
    [inspect.custom]: { value: () => redactConfig(config), enumerable: false },
  });
  secretNamesByConfig.set(config, secrets);
  return Object.freeze(config) as PlatformConfig<S>;
}
