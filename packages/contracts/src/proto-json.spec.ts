import { describe, expect, it } from 'vitest';

import { fromProtoStruct, toProtoStruct, toProtoTimestamp } from './proto-json.js';

/** What proto-loader hands a handler (`oneofs: true`): each `Value` also names its set field in `kind`. */
function received(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(received);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value).map(([key, inner]) => [key, received(inner)] as const);
  const object: Record<string, unknown> = Object.fromEntries(entries);
  const kind = ['nullValue', 'numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue'].find(
    (name) => name in object,
  );
  return kind === undefined ? object : { ...object, kind };
}

describe('JSON through google.protobuf.Struct', () => {
  it('carries JSON there and back', () => {
    const json = {
      name: 'x',
      n: 1.5,
      ok: true,
      none: null,
      list: [1, 'two', { three: [] }],
      nested: { a: {} },
    };
    expect(fromProtoStruct(received(toProtoStruct(json)))).toEqual(json);
  });

  it('refuses what is not a Struct, and nesting past its bound', () => {
    expect(fromProtoStruct('text')).toBeUndefined();
    expect(fromProtoStruct({ fields: { a: { kind: 'numberValue', numberValue: 'NaN' } } })).toBeUndefined();
    expect(fromProtoStruct({ fields: { a: { kind: 'surprise' } } })).toBeUndefined();
    let deep: unknown = { fields: {} };
    for (let level = 0; level < 40; level += 1) {
      deep = { fields: { a: { kind: 'structValue', structValue: deep } } };
    }
    expect(fromProtoStruct(deep)).toBeUndefined();
  });

  it('writes times as seconds and nanos', () => {
    expect(toProtoTimestamp('2026-12-04T10:00:00.250Z')).toEqual({
      seconds: 1_796_378_400,
      nanos: 250_000_000,
    });
  });
});
