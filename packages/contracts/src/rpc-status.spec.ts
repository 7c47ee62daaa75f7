import { describe, expect, it } from 'vitest';

import { Any } from './gen/google/protobuf/any.js';
import { Status } from './gen/google/rpc/status.js';
import { decodeErrorDetails, encodeErrorDetails } from './rpc-status.js';

describe('encodeErrorDetails / decodeErrorDetails', () => {
  it('round-trips code, message, reason, domain and metadata', () => {
    const buf = encodeErrorDetails({
      grpcCode: 16,
      message: 'The principal is missing or invalid.',
      reason: 'principal_invalid',
      domain: 'aibox.audit',
      metadata: { turn_id: '0190c3c4-0000-7000-8000-000000000001' },
    });

    expect(decodeErrorDetails(buf)).toEqual({
      code: 16,
      message: 'The principal is missing or invalid.',
      reason: 'principal_invalid',
      domain: 'aibox.audit',
      metadata: { turn_id: '0190c3c4-0000-7000-8000-000000000001' },
    });
  });

  it('encodes the ErrorInfo as an Any with the standard type URL, readable by any gRPC stack', () => {
    const status = Status.decode(
      encodeErrorDetails({
        grpcCode: 3,
        message: 'bad',
        reason: 'event_type_unknown',
        domain: 'aibox.audit',
      }),
    );

    expect(status.code).toBe(3);
    expect(status.details.map((d: Any) => d.typeUrl)).toEqual(['type.googleapis.com/google.rpc.ErrorInfo']);
  });

  it('returns an empty metadata map when none was given', () => {
    const decoded = decodeErrorDetails(
      encodeErrorDetails({
        grpcCode: 5,
        message: 'no such turn',
        reason: 'turn_not_found',
        domain: 'aibox.audit',
      }),
    );

    expect(decoded?.metadata).toEqual({});
  });

  it('reads a Status without ErrorInfo as code and message only', () => {
    const buf = Status.encode({ code: 14, message: 'unavailable', details: [] }).finish();

    expect(decodeErrorDetails(buf)).toEqual({ code: 14, message: 'unavailable', metadata: {} });
  });

  it.each([
    ['text', Buffer.from('definitely not protobuf')],
    [
      'a truncated status',
      encodeErrorDetails({ grpcCode: 7, message: 'm', reason: 'r', domain: 'd' }).subarray(0, -3),
    ],
    ['an invalid wire type', Buffer.from([0x0f, 0x01])],
    ['an out-of-range code', Status.encode({ code: 99, message: 'x', details: [] }).finish()],
    ['an OK status, which describes no error', Status.encode({ code: 0, message: '', details: [] }).finish()],
  ])('returns undefined for %s instead of throwing', (_name, buf) => {
    expect(decodeErrorDetails(buf)).toBeUndefined();
  });

  it('returns undefined when the packed ErrorInfo itself is corrupt', () => {
    const buf = Status.encode({
      code: 13,
      message: 'x',
      details: [{ typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: Buffer.from([0x0a, 0x7f]) }],
    }).finish();

    expect(decodeErrorDetails(buf)).toBeUndefined();
  });
});
