import { inspect } from 'node:util';

import { describe, expect, it } from 'vitest';
import { z } from 'zod';

import { generateKeySetValue } from '@aibox/identity';

import { baseConfigSchema } from './base-config.schema.js';
import { ConfigError } from './config.error.js';
import { loadConfig, redactConfig, secretSettingNames } from './load-config.js';
import { isBuiltInIdentityIssuer } from './production-policy.js';
import { flagSetting, intSetting, secret, textSetting, urlSetting } from './settings.js';

const principalKeys = generateKeySetValue(['k-principal']);
const capTokenKeys = generateKeySetValue(['k-captoken']);
const keys = { AIBOX_PRINCIPAL_KEYS: principalKeys, AIBOX_CAPTOKEN_KEYS: capTokenKeys };

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error: unknown) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('fills every base setting with its documented default', () => {
    const config = loadConfig(baseConfigSchema, { PORT: '8008', ...keys });
    expect(config).toMatchObject({
      PORT: 8008,
      HOST: '127.0.0.1',
      AIBOX_ENV: 'development',
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: 10_000,
      AUTH_ENABLED: true,
      AIBOX_ALLOW_AUTH_DISABLED: false,
      AUTH_ISSUERS: [],
      AIBOX_DATA_DIR: '.data',
      AGENT_RUNTIME_URL: 'http://127.0.0.1:8001',
      AGENT_RUNTIME_GRPC_URL: '127.0.0.1:9001',
      INFERENCE_ROUTER_URL: 'http://127.0.0.1:8004',
      CODE_SANDBOX_GRPC_URL: '127.0.0.1:9006',
      AUDIT_URL: 'http://127.0.0.1:8008',
      AUDIT_GRPC_URL: '127.0.0.1:9008',
      IDENTITY_URL: 'http://127.0.0.1:8011',
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.AIBOX_PRINCIPAL_KEYS?.signingKid).toBe('k-principal');
    expect(config.AIBOX_CAPTOKEN_KEYS?.keys.get('k-captoken')).toHaveLength(32);
  });

  it('takes defaults for unset settings only: the shell always wins, and an empty value counts as unset', () => {
    expect(loadConfig(baseConfigSchema, { ...keys }, { defaults: { PORT: '8003' } }).PORT).toBe(8003);
    expect(loadConfig(baseConfigSchema, { PORT: '9999', ...keys }, { defaults: { PORT: '8003' } }).PORT).toBe(
      9999,
    );
    expect(loadConfig(baseConfigSchema, { PORT: '', ...keys }, { defaults: { PORT: '8003' } }).PORT).toBe(
      8003,
    );
    expect(loadConfig(baseConfigSchema, { PORT: '1', HOST: '', ...keys }).HOST).toBe('127.0.0.1');
  });

  it('merges the service schema, parses its settings and names them in errors', () => {
    const schema = z.object({
      MEMORY_TTL_SECONDS: intSetting(1, 3600).default(60),
      MEMORY_PREFETCH: flagSetting().default(false),
      MEMORY_LABEL: textSetting(),
    });
    const config = loadConfig(schema, {
      PORT: '8003',
      MEMORY_TTL_SECONDS: '120',
      MEMORY_LABEL: ' main ',
      ...keys,
    });
    expect(config.MEMORY_TTL_SECONDS).toBe(120);
    expect(config.MEMORY_PREFETCH).toBe(false);
    expect(config.MEMORY_LABEL).toBe('main');
    expect(config.AUDIT_GRPC_URL).toBe('127.0.0.1:9008');

    expect(configError(() => loadConfig(schema, { PORT: '8003', ...keys })).message).toBe(
      'config error: MEMORY_LABEL: is required',
    );
    expect(
      configError(() =>
        loadConfig(schema, { PORT: '8003', MEMORY_LABEL: 'x', MEMORY_TTL_SECONDS: '0', ...keys }),
      ).message,
    ).toBe('config error: MEMORY_TTL_SECONDS: expected an integer between 1 and 3600');
  });

  it.each([
    [{ PORT: 'abc' }, 'config error: PORT: expected an integer between 1 and 64535'],
    [{ PORT: '65000' }, 'config error: PORT: expected an integer between 1 and 64535'],
    [{ PORT: '80.5' }, 'config error: PORT: expected an integer between 1 and 64535'],
    [{}, 'config error: PORT: is required'],
    [
      { PORT: '1', LOG_LEVEL: 'loud' },
      'config error: LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent',
    ],
    [{ PORT: '1', AIBOX_ENV: 'staging' }, 'config error: AIBOX_ENV: expected one of development, production'],
    [{ PORT: '1', AUTH_ENABLED: 'maybe' }, 'config error: AUTH_ENABLED: expected true or false'],
    [
      { PORT: '1', AUDIT_URL: 'audit:8008' },
      'config error: AUDIT_URL: expected an absolute http or https URL',
    ],
    [
      { PORT: '1', AUDIT_GRPC_URL: 'audit' },
      'config error: AUDIT_GRPC_URL: expected host:port (or grpc://host:port)',
    ],
    [
      { PORT: '1', AUTH_ISSUERS: 'https://a.test,not a url' },
      'config error: AUTH_ISSUERS: entry 2 is not an absolute http or https URL',
    ],
    [
      { PORT: '1', DATABASE_URL: 'mysql://db/x' },
      'config error: DATABASE_URL: expected an absolute postgres or postgresql URL',
    ],
    [
      { PORT: '1', SHUTDOWN_GRACE_MS: '-1' },
      'config error: SHUTDOWN_GRACE_MS: expected an integer between 0 and 600000',
    ],
  ])('refuses %o with one line naming the setting', (env, line) => {
    const error = configError(() => loadConfig(baseConfigSchema, { ...keys, ...env }));
    expect(error.message).toBe(line);
    expect(error.kind).toBe('invalid');
  });

  it('explains a malformed key set without quoting it', () => {
    const value = 'k1=c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0,k1=c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0';
    const error = configError(() =>
      loadConfig(baseConfigSchema, { PORT: '1', ...keys, AIBOX_PRINCIPAL_KEYS: value }),
    );
    expect(error.message).toBe(
      'config error: AIBOX_PRINCIPAL_KEYS: The key set is invalid: entries 1 and 2 use the same kid',
    );
    expect(error.message).not.toContain('c2VjcmV0');
  });

  it('requires both key sets in every environment', () => {
    expect(
      configError(() => loadConfig(baseConfigSchema, { PORT: '1', AIBOX_CAPTOKEN_KEYS: capTokenKeys }))
        .message,
    ).toBe('config error: AIBOX_PRINCIPAL_KEYS: is required (make dev generates it into AIBOX_DATA_DIR)');
    expect(
      configError(() => loadConfig(baseConfigSchema, { PORT: '1', AIBOX_PRINCIPAL_KEYS: principalKeys }))
        .message,
    ).toBe('config error: AIBOX_CAPTOKEN_KEYS: is required (make dev generates it into AIBOX_DATA_DIR)');
  });

  it('normalizes service addresses: grpc:// prefixes and trailing slashes go', () => {
    const config = loadConfig(baseConfigSchema, {
      PORT: '1',
      ...keys,
      AUDIT_GRPC_URL: 'grpc://audit.internal:9008',
      MEMORY_URL: 'http://memory.internal:8003/',
      AUTH_ISSUERS: ' https://idp.example.test/realms/aibox/ , https://other.example.test ',
    });
    expect(config.AUDIT_GRPC_URL).toBe('audit.internal:9008');
    expect(config.MEMORY_URL).toBe('http://memory.internal:8003');
    expect(config.AUTH_ISSUERS).toEqual([
      'https://idp.example.test/realms/aibox',
      'https://other.example.test',
    ]);
  });

  it('returns a frozen config', () => {
    const config = loadConfig(baseConfigSchema, {
      PORT: '1',
      ...keys,
      AUTH_ISSUERS: 'https://idp.example.test',
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { PORT: number }).PORT = 2;
    }).toThrow(TypeError);
    expect(() => {
      (config.AUTH_ISSUERS as string[]).push('https://evil.example.test');
    }).toThrow(TypeError);
  });

  it('keeps secrets out of JSON, inspect and redacted views, by mark and by name', () => {
    const schema = z.object({
      SANDBOX_REGISTRY_URL: secret(urlSetting().optional()),
      SANDBOX_API_TOKEN: textSetting().optional(),
      SANDBOX_NAME: textSetting().default('box'),
    });
    const config = loadConfig(schema, {
      PORT: '1',
      ...keys,
      DATABASE_URL: 'postgres://aibox:db-password-value@db/aibox',
      S3_SECRET_KEY: 's3-secret-value',
      SANDBOX_REGISTRY_URL: 'https://user:registry-password@registry.test',
      SANDBOX_API_TOKEN: 'api-token-value',
    });
    expect(config.DATABASE_URL).toBe('postgres://aibox:db-password-value@db/aibox');
    expect(secretSettingNames(config)).toEqual(
      expect.arrayContaining([
        'AIBOX_PRINCIPAL_KEYS',
        'AIBOX_CAPTOKEN_KEYS',
        'DATABASE_URL',
        'REDIS_URL',
        'S3_ACCESS_KEY',
        'S3_SECRET_KEY',
        'SANDBOX_REGISTRY_URL',
        'SANDBOX_API_TOKEN',
      ]),
    );
    expect(secretSettingNames(config)).not.toContain('SANDBOX_NAME');
    const views = [JSON.stringify(config), inspect(config), JSON.stringify(redactConfig(config))];
    for (const view of views) {
      for (const value of ['db-password-value', 's3-secret-value', 'registry-password', 'api-token-value']) {
        expect(view).not.toContain(value);
      }
      expect(view).not.toContain(
        principalKeys.slice(principalKeys.indexOf('=') + 1, principalKeys.indexOf('=') + 20),
      );
      expect(view).toContain('box');
    }
    expect(redactConfig(config)).toMatchObject({
      DATABASE_URL: '[Redacted]',
      REDIS_URL: undefined,
      SANDBOX_NAME: 'box',
    });
  });
});

describe('configuration refusals', () => {
  const production = {
    PORT: '1',
    AIBOX_ENV: 'production',
    AIBOX_PRINCIPAL_KEYS: generateKeySetValue(['p-2026']),
    AIBOX_CAPTOKEN_KEYS: generateKeySetValue(['c-2026']),
  };

  it('accepts a production configuration with real keys and a real issuer', () => {
    const config = loadConfig(baseConfigSchema, {
      ...production,
      AUTH_ISSUERS: 'https://idp.example.test/realms/aibox',
    });
    expect(config.AIBOX_ENV).toBe('production');
  });

  it('allows auth to be disabled in development only with the explicit allowance', () => {
    const config = loadConfig(baseConfigSchema, {
      PORT: '1',
      ...keys,
      AUTH_ENABLED: 'false',
      AIBOX_ALLOW_AUTH_DISABLED: 'true',
    });
    expect(config.AUTH_ENABLED).toBe(false);
    const error = configError(() =>
      loadConfig(baseConfigSchema, { PORT: '1', ...keys, AUTH_ENABLED: 'false' }),
    );
    expect(error.kind).toBe('refused');
    expect(error.setting).toBe('AUTH_ENABLED');
  });

  it('refuses keys in production by kid and by length, and tolerates them in development', () => {
    const devKeys = generateKeySetValue(['k-new', 'DEV-old']);
    const shortKeys = `k-short=${Buffer.alloc(31, 3).toString('base64')}`;
    expect(
      loadConfig(baseConfigSchema, { PORT: '1', ...keys, AIBOX_PRINCIPAL_KEYS: devKeys }).AIBOX_ENV,
    ).toBe('development');
    expect(
      loadConfig(baseConfigSchema, { PORT: '1', ...keys, AIBOX_CAPTOKEN_KEYS: shortKeys }).AIBOX_ENV,
    ).toBe('development');

    const dev = configError(() =>
      loadConfig(baseConfigSchema, { ...production, AIBOX_PRINCIPAL_KEYS: devKeys }),
    );
    expect(dev.message).toBe(
      'config error: AIBOX_PRINCIPAL_KEYS: key "DEV-old" is a development key (its kid starts with "dev"); AIBOX_ENV=production refuses it',
    );
    expect(dev.kind).toBe('refused');
    const short = configError(() =>
      loadConfig(baseConfigSchema, { ...production, AIBOX_CAPTOKEN_KEYS: shortKeys }),
    );
    expect(short.message).toBe(
      'config error: AIBOX_CAPTOKEN_KEYS: key "k-short" is 31 bytes; AIBOX_ENV=production requires at least 32',
    );
  });

  it('checks the audit and credentials keys in production only when the service declares them', () => {
    expect(loadConfig(baseConfigSchema, production).AIBOX_ENV).toBe('production');
    const schema = z.object({ AUDIT_SIGNING_KEYS: secret(textSetting().optional()) });
    expect(configError(() => loadConfig(schema, production)).message).toBe(
      'config error: AUDIT_SIGNING_KEYS: is required when AIBOX_ENV=production',
    );
    const sandbox = z.object({ AIBOX_CREDENTIALS_KEY: secret(textSetting().optional()) });
    expect(
      loadConfig(sandbox, { ...production, AIBOX_CREDENTIALS_KEY: Buffer.alloc(32, 9).toString('base64') })
        .AIBOX_ENV,
    ).toBe('production');
  });

  it.each([
    ['http://127.0.0.1:8011', true],
    ['http://localhost:8011/', true],
    ['http://127.0.0.2:8011/oidc', true],
    ['http://[::1]:8011', true],
    ['https://idp.example.test', false],
    ['http://localhost:8080', false],
    ['http://identity:8011', false],
  ])('treats %s as the built-in identity service: %s', (issuer, builtIn) => {
    expect(isBuiltInIdentityIssuer(issuer, 'http://127.0.0.1:8011')).toBe(builtIn);
  });

  it('treats the configured IDENTITY_URL as the built-in identity service too', () => {
    expect(isBuiltInIdentityIssuer('http://identity:8011/', 'http://identity:8011')).toBe(true);
    const error = configError(() =>
      loadConfig(baseConfigSchema, {
        ...production,
        IDENTITY_URL: 'http://identity:8011',
        AUTH_ISSUERS: 'http://identity:8011',
      }),
    );
    expect(error.setting).toBe('AUTH_ISSUERS');
    expect(error.kind).toBe('refused');
  });
});
