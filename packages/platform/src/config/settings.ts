import { IdentityError, parseKeySet, type KeySet } from '@aibox/identity';
import { z } from 'zod';

/*
 * Building blocks for environment settings. Each takes the raw string and yields a typed value, with an
 * issue message that completes `config error: <NAME>: …` and never quotes the value (it may be a secret).
 * Compose with `.optional()` or `.default(value)`; a bare setting is required.
 */

const secretSchemas = new WeakSet<z.ZodType>();

// Names that hold credentials by convention; matched in addition to settings marked with `secret()`.
const SECRET_NAME = /secret|token|key|password|credential/i;

/** Marks a setting as secret: its value is never logged and `config.toJSON()` shows `[Redacted]`. */
export function secret<T extends z.ZodType>(schema: T): T {
  secretSchemas.add(schema);
  return schema;
}

/** Whether a setting's value must stay out of logs: marked with `secret()` or named like a secret. */
export function isSecretSetting(name: string, schema?: z.ZodType): boolean {
  return SECRET_NAME.test(name) || (schema !== undefined && secretSchemas.has(schema));
}

/** An integer in `[min, max]`. */
export function intSetting(min: number, max: number): z.ZodType<number, string> {
  const reason = `expected an integer between ${min} and ${max}`;
  return z.string().transform((raw, ctx) => {
    const text = raw.trim();
    const value = /^-?[0-9]+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: reason });
      return z.NEVER;
    }
    return value;
  });
}

const TRUE_WORDS: ReadonlySet<string> = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS: ReadonlySet<string> = new Set(['false', '0', 'no', 'off']);

/** `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`, any case). */
export function flagSetting(): z.ZodType<boolean, string> {
  return z.string().transform((raw, ctx) => {
    const word = raw.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    ctx.addIssue({ code: 'custom', message: 'expected true or false' });
    return z.NEVER;
  });
}

/** One of `values`, exactly as spelled (surrounding whitespace ignored). */
export function enumSetting<const T extends readonly [string, ...string[]]>(
  values: T,
): z.ZodType<T[number], string> {
  const allowed: ReadonlySet<string> = new Set(values);
  return z.string().transform((raw, ctx) => {
    const value = raw.trim();
    if (allowed.has(value)) return value;
    ctx.addIssue({ code: 'custom', message: `expected one of ${values.join(', ')}` });
    return z.NEVER;
  });
}

/** A non-empty string, trimmed. */
export function textSetting(): z.ZodType<string, string> {
  return z.string().transform((raw, ctx) => {
    const value = raw.trim();
    if (value !== '') return value;
    ctx.addIssue({ code: 'custom', message: 'expected a non-empty value' });
    return z.NEVER;
  });
}

function parseUrl(raw: string, protocols: readonly string[]): URL | undefined {
  try {
    const url = new URL(raw.trim());
    return protocols.includes(url.protocol) ? url : undefined;
  } catch {
    return undefined;
  }
}

function describeProtocols(protocols: readonly string[]): string {
  return protocols.map((protocol) => protocol.replace(/:$/, '')).join(' or ');
}

/**
 * An absolute URL with one of `protocols` (default http/https), returned as given minus surrounding
 * whitespace and trailing slashes, so `${url}/path` joins cleanly.
 */
export function urlSetting(protocols: readonly string[] = ['http:', 'https:']): z.ZodType<string, string> {
  return z.string().transform((raw, ctx) => {
    if (parseUrl(raw, protocols) === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected an absolute ${describeProtocols(protocols)} URL` });
      return z.NEVER;
    }
    return raw.trim().replace(/\/+$/, '');
  });
}

/** Comma-separated http(s) URLs; empty entries are ignored. */
export function urlListSetting(): z.ZodType<readonly string[], string> {
  return z.string().transform((raw, ctx) => {
    const entries = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    const urls: string[] = [];
    for (const [index, entry] of entries.entries()) {
      if (parseUrl(entry, ['http:', 'https:']) === undefined) {
        ctx.addIssue({ code: 'custom', message: `entry ${index + 1} is not an absolute http or https URL` });
        return z.NEVER;
      }
      urls.push(entry.replace(/\/+$/, ''));
    }
    return urls;
  });
}

/**
 * Where a gRPC server listens, as a grpc-js target `host:port`. `grpc://host:port` is accepted too and
 * normalized, since people write URLs.
 */
export function grpcTargetSetting(): z.ZodType<string, string> {
  return z.string().transform((raw, ctx) => {
    const text = raw.trim().replace(/^grpc:\/\//, '');
    const url = parseUrl(`grpc://${text}`, ['grpc:']);
    if (url === undefined || url.hostname === '' || url.port === '' || !/^[^/]+$/.test(text)) {
      ctx.addIssue({ code: 'custom', message: 'expected host:port (or grpc://host:port)' });
      return z.NEVER;
    }
    return text;
  });
}

/**
 * An HMAC key set, `kid=base64,kid2=base64` (first signs, all verify), parsed into a `KeySet` that never
 * prints its keys. Any key length is accepted here; production refuses keys under 32 bytes.
 */
export function keySetSetting(): z.ZodType<KeySet, string> {
  return z.string().transform((raw, ctx) => {
    try {
      return parseKeySet(raw, { minKeyBytes: 1 });
    } catch (error: unknown) {
      if (!(error instanceof IdentityError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message.replace(/\.$/, '') });
      return z.NEVER;
    }
  });
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** A single base64 key (standard or url-safe alphabet), e.g. `AIBOX_CREDENTIALS_KEY`. */
export function base64KeySetting(): z.ZodType<Buffer, string> {
  return z.string().transform((raw, ctx) => {
    const text = raw.trim();
    if (!BASE64.test(text) || text.replace(/=+$/, '').length % 4 === 1) {
      ctx.addIssue({ code: 'custom', message: 'expected a base64 key' });
      return z.NEVER;
    }
    return Buffer.from(text, 'base64');
  });
}
