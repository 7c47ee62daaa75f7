import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';

import { contextLogFields } from '../context/request-context.js';

export type { Logger } from 'pino';

/** What every log line's censored values read. */
export const REDACTED = '[Redacted]';

/** Headers that carry credentials; censored wherever a headers object is logged. */
export const SECRET_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-aibox-principal',
  'x-aibox-cap-token',
  'aibox-principal',
  'aibox-cap-token',
  'x-api-key',
  'api-key',
];

/** Field names that hold credentials, censored at the top level of a line and one level down. */
export const SECRET_FIELDS: readonly string[] = [
  'password',
  'passwd',
  'secret',
  'token',
  'apiKey',
  'api_key',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'clientSecret',
  'client_secret',
  'privateKey',
  'private_key',
  'capToken',
  'cap_token',
];

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function member(name: string): string {
  return IDENTIFIER.test(name) ? `.${name}` : `["${name}"]`;
}

/** pino redaction paths for the header and field lists plus `extraFields` (e.g. secret config names). */
export function redactionPaths(extraFields: readonly string[] = []): string[] {
  const paths = new Set<string>();
  for (const header of SECRET_HEADERS) {
    for (const holder of ['req.headers', 'res.headers', 'headers', '*.headers']) {
      paths.add(`${holder}${member(header)}`);
    }
  }
  for (const field of [...SECRET_FIELDS, ...extraFields]) {
    const access = member(field);
    paths.add(access.startsWith('.') ? field : access);
    paths.add(`*${access}`);
  }
  return [...paths];
}

interface SerializableRequest {
  method?: unknown;
  url?: unknown;
  headers?: unknown;
}

/** Method, path (the query string may carry tokens, so it is cut) and headers of a Fastify or Node request. */
function serializeRequest(request: SerializableRequest): Record<string, unknown> {
  const url = typeof request.url === 'string' ? request.url : '';
  const query = url.indexOf('?');
  return {
    method: request.method,
    path: query === -1 ? url : url.slice(0, query),
    headers: typeof request.headers === 'object' && request.headers !== null ? { ...request.headers } : {},
  };
}

export interface CreateLoggerOptions {
  /** The service's name, in the `service` field of every line. */
  service: string;
  level: string;
  /** Extra field names to censor wherever they appear (the config's secret settings). */
  redact?: readonly string[];
  /** Where lines go; standard output by default. */
  destination?: DestinationStream;
}

/**
 * A pino logger writing JSON lines with `time` (ISO 8601), `level` (label), `service`, the request
 * context (`correlation_id`, `turn_id`, `tenant_id`, `user_id`) whenever a line is written inside a
 * request, and credentials censored as `[Redacted]`.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: contextLogFields,
      redact: { paths: redactionPaths(options.redact), censor: REDACTED },
      serializers: { req: serializeRequest, err: stdSerializers.err, error: stdSerializers.err },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
