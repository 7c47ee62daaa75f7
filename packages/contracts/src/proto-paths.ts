import { fileURLToPath } from 'node:url';

/**
 * Absolute path of the repository's `proto/` folder. This module sits in `packages/contracts/src` (sources)
 * or `packages/contracts/dist` (build), so the folder is three levels up either way.
 */
export const PROTO_ROOT: string = fileURLToPath(new URL('../../../proto', import.meta.url));

/** Our `.proto` files that declare services, relative to {@link PROTO_ROOT}. */
export const PROTO_FILES = [
  'aibox/v1/audit.proto',
  'aibox/v1/sandbox.proto',
  'aibox/v1/turn_events.proto',
] as const;

/**
 * `includeDirs` for `@grpc/proto-loader`: imports such as `aibox/v1/turn_events.proto` and the vendored
 * `google/rpc/*` resolve under {@link PROTO_ROOT}; `google/protobuf/*` well-known types are bundled in
 * protobufjs, which proto-loader consults before its include dirs.
 */
export const PROTO_INCLUDE_DIRS: readonly string[] = [PROTO_ROOT];
