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

/** Any object: its own keys are what the redaction paths can name. */
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * Censors what {@link redactionPaths} names, without pino's `redact` option: that one re-parses every
 * wildcard path for every top-level key of every line (tens of microseconds and ~100 KiB of garbage per
 * line), which made logging the dominant cost of a request. The paths covered are the same: a secret field
 * at the top level or one level down, and a secret header in `headers` at the top level or one level down
 * (`req.headers`, `res.headers`, `*.headers`). Objects are copied when something is censored, never
 * mutated.
 */
class Redactor {
  private readonly fields: ReadonlySet<string>;
  private readonly headers: ReadonlySet<string> = new Set(SECRET_HEADERS);

  constructor(extraFields: readonly string[]) {
    this.fields = new Set([...SECRET_FIELDS, ...extraFields]);
  }

  /** A line's merged object (or a child's bindings); `serialized` keys are censored by their serializer. */
  line(object: Record<string, unknown>, serialized: ReadonlySet<string>): Record<string, unknown> {
    let out: Record<string, unknown> | undefined;
    for (const key in object) {
      if (!Object.hasOwn(object, key)) continue;
      const value = object[key];
      let censored: unknown;
      if (this.fields.has(key)) censored = value === undefined ? value : REDACTED;
      else if (serialized.has(key)) continue;
      else censored = this.nested(value, key === 'headers');
      if (censored !== value) {
        out ??= { ...object };
        out[key] = censored;
      }
    }
    return out ?? object;
  }

  /** One level below the top: secret fields, and secret headers in a `headers` object. */
  nested(value: unknown, isHeaders = false): unknown {
    if (!isRecord(value)) return value;
    if (isHeaders) return this.censor(value, this.headers);
    let out: Record<string, unknown> | undefined;
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      const inner = value[key];
      const censored = this.fields.has(key)
        ? inner === undefined
          ? inner
          : REDACTED
        : key === 'headers'
          ? this.nested(inner, true)
          : inner;
      if (censored !== inner) {
        out ??= { ...value };
        out[key] = censored;
      }
    }
    return out ?? value;
  }

  private censor(value: Record<string, unknown>, names: ReadonlySet<string>): Record<string, unknown> {
    let out: Record<string, unknown> | undefined;
    for (const key in value) {
      if (Object.hasOwn(value, key) && names.has(key) && value[key] !== undefined) {
        out ??= { ...value };
        out[key] = REDACTED;
      }
    }
    return out ?? value;
  }
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
 * request, and credentials censored as `[Redacted]` (the paths of {@link redactionPaths}).
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const redactor = new Redactor(options.redact ?? []);
  // pino runs the formatters before the serializers, so serialized values are censored by their serializer.
  const serializers = {
    req: (request: SerializableRequest) => redactor.nested(serializeRequest(request)),
    err: (error: Error) => redactor.nested(stdSerializers.err(error)),
    error: (error: Error) => redactor.nested(stdSerializers.err(error)),
  };
  const serialized: ReadonlySet<string> = new Set(Object.keys(serializers));
  const logger = pino(
    {
      level: options.level,
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactor.line(object, serialized),
      },
      mixin: contextLogFields,
      serializers,
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  return censoringChildren(logger, (bindings) => redactor.line(bindings, serialized));
}

/** pino resets `formatters.bindings` for children, so child bindings are censored on the way in. */
function censoringChildren(logger: Logger, censor: (bindings: pino.Bindings) => pino.Bindings): Logger {
  const child = logger.child.bind(logger);
  const censored = (bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions): Logger =>
    censoringChildren(child(censor(bindings), childOptions), censor);
  // pino types `child` as generic over custom levels, which this service never uses.
  logger.child = censored as unknown as typeof child;
  return logger;
}
