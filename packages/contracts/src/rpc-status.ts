import { Any } from './gen/google/protobuf/any.js';
import { ErrorInfo } from './gen/google/rpc/error_details.js';
import { Status } from './gen/google/rpc/status.js';

/** The trailer that carries a serialized `google.rpc.Status` next to `grpc-status`. */
export const GRPC_STATUS_DETAILS_KEY = 'grpc-status-details-bin';

const ERROR_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.ErrorInfo';
const MAX_GRPC_CODE = 16;

export interface ErrorDetailsInput {
  /** gRPC status code (1–16), the same as the call's `grpc-status`. */
  grpcCode: number;
  /** Human sentence; never secrets, tokens or message bodies. */
  message: string;
  /** Stable snake_case error code, e.g. `principal_invalid`. */
  reason: string;
  /** `aibox.<service>`, e.g. `aibox.audit`. */
  domain: string;
  /** Non-secret context such as `turn_id`. */
  metadata?: Record<string, string>;
}

export interface ErrorDetails {
  code: number;
  message: string;
  /** From the first `google.rpc.ErrorInfo` detail; absent when the status has none. */
  reason?: string;
  domain?: string;
  metadata: Record<string, string>;
}

/**
 * Serializes a `google.rpc.Status` carrying one `google.rpc.ErrorInfo` packed in `Any`: the value for the
 * `grpc-status-details-bin` trailer.
 */
export function encodeErrorDetails(input: ErrorDetailsInput): Buffer {
  const info = ErrorInfo.encode({
    reason: input.reason,
    domain: input.domain,
    metadata: { ...input.metadata },
  }).finish();
  const status = Status.encode({
    code: input.grpcCode,
    message: input.message,
    details: [{ typeUrl: ERROR_INFO_TYPE_URL, value: Buffer.from(info) }],
  }).finish();
  return Buffer.from(status);
}

/**
 * Parses a `grpc-status-details-bin` value. Returns `undefined` when the bytes are not a `google.rpc.Status`
 * of a failed call (truncated, wrong wire types, a code outside 1–16) — a peer's malformed trailer must not crash the caller.
 */
export function decodeErrorDetails(buf: Uint8Array): ErrorDetails | undefined {
  let status: Status;
  try {
    status = Status.decode(buf);
  } catch {
    return undefined;
  }
  // 0 is OK: a status that describes no failure is not error details, whatever the bytes were.
  if (!Number.isInteger(status.code) || status.code < 1 || status.code > MAX_GRPC_CODE) {
    return undefined;
  }
  const details: ErrorDetails = { code: status.code, message: status.message, metadata: {} };
  const packed = status.details.find((d: Any) => d.typeUrl.endsWith('/google.rpc.ErrorInfo'));
  if (packed === undefined) {
    return details;
  }
  let info: ErrorInfo;
  try {
    info = ErrorInfo.decode(packed.value);
  } catch {
    return undefined;
  }
  return { ...details, reason: info.reason, domain: info.domain, metadata: { ...info.metadata } };
}
