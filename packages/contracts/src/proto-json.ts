/**
 * JSON values and times in the form `@grpc/proto-loader` reads and writes them with the platform's loader
 * options (`PROTO_LOADER_OPTIONS`): `google.protobuf.Struct` as `{fields: {name: Value}}`, each `Value` with
 * its set field and (on the way in, `oneofs: true`) `kind` naming it; `google.protobuf.Timestamp` as
 * `{seconds, nanos}`. protobufjs wraps neither, so handlers convert.
 */

/** `google.protobuf.NullValue.NULL_VALUE` (enums travel as numbers). */
const NULL_VALUE = 0;
/** Deeper input is refused rather than walked: the specs and events this service takes are shallow. */
const MAX_NESTING = 32;

export type ProtoValue =
  | { nullValue: typeof NULL_VALUE }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: ProtoStruct }
  | { listValue: { values: ProtoValue[] } };

export interface ProtoStruct {
  fields: Record<string, ProtoValue>;
}

export interface ProtoTimestamp {
  seconds: number;
  nanos: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON value as a `google.protobuf.Value`; what JSON cannot hold (NaN, a function…) becomes null, as in `JSON.stringify`. */
export function toProtoValue(value: unknown): ProtoValue {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number')
    return Number.isFinite(value) ? { numberValue: value } : { nullValue: NULL_VALUE };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toProtoValue) } };
  if (isRecord(value)) return { structValue: toProtoStruct(value) };
  return { nullValue: NULL_VALUE };
}

/** A JSON object as a `google.protobuf.Struct`; undefined members are left out, as in `JSON.stringify`. */
export function toProtoStruct(object: Readonly<Record<string, unknown>>): ProtoStruct {
  const fields: Record<string, ProtoValue> = {};
  for (const [key, value] of Object.entries(object)) {
    if (value !== undefined) fields[key] = toProtoValue(value);
  }
  return { fields };
}

/** A received `google.protobuf.Value` as plain JSON; `undefined` when it is not one. */
export function fromProtoValue(value: unknown, depth = 0): unknown {
  if (!isRecord(value) || depth > MAX_NESTING) return undefined;
  switch (value['kind']) {
    case 'nullValue':
      return null;
    case 'numberValue': {
      const number = value['numberValue'];
      return typeof number === 'number' && Number.isFinite(number) ? number : undefined;
    }
    case 'stringValue':
      return typeof value['stringValue'] === 'string' ? value['stringValue'] : undefined;
    case 'boolValue':
      return typeof value['boolValue'] === 'boolean' ? value['boolValue'] : undefined;
    case 'structValue':
      return fromProtoStruct(value['structValue'], depth + 1);
    case 'listValue': {
      const list = value['listValue'];
      const values = isRecord(list) ? list['values'] : undefined;
      if (!Array.isArray(values)) return undefined;
      const out: unknown[] = [];
      for (const item of values) {
        const converted = fromProtoValue(item, depth + 1);
        if (converted === undefined) return undefined;
        out.push(converted);
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** A received `google.protobuf.Struct` as a plain JSON object; `undefined` when it is not one. */
export function fromProtoStruct(value: unknown, depth = 0): Record<string, unknown> | undefined {
  if (!isRecord(value) || depth > MAX_NESTING) return undefined;
  const fields = value['fields'] ?? {};
  if (!isRecord(fields)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields)) {
    const converted = fromProtoValue(field, depth);
    if (converted === undefined) return undefined;
    out[key] = converted;
  }
  return out;
}

/** An ISO 8601 time (as the HTTP API writes them) or a Date as a `google.protobuf.Timestamp`. */
export function toProtoTimestamp(time: string | Date): ProtoTimestamp {
  const ms = typeof time === 'string' ? Date.parse(time) : time.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 };
}
