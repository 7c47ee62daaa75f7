import { ServerInterceptingCall, status as GrpcStatus, type ServerInterceptor } from '@grpc/grpc-js';

import type { GrpcMetrics } from './metrics.js';

function statusName(code: number): string {
  return GrpcStatus[code] ?? String(code);
}

/**
 * A grpc-js server interceptor that records every call (any streaming kind, including health and
 * reflection) once: with its final status when the server sends one, as `CANCELLED` when the client goes
 * away first.
 */
export function grpcMetricsInterceptor(metrics: GrpcMetrics): ServerInterceptor {
  return (methodDescriptor, call) => {
    const started = process.hrtime.bigint();
    const method = methodDescriptor.path.startsWith('/')
      ? methodDescriptor.path.slice(1)
      : methodDescriptor.path;
    let recorded = false;
    const record = (code: number): void => {
      if (recorded) return;
      recorded = true;
      metrics.observe(method, statusName(code), Number(process.hrtime.bigint() - started) / 1e9);
    };
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onCancel: () => {
            record(GrpcStatus.CANCELLED);
          },
        });
      },
      sendStatus: (status, next) => {
        record(status.code);
        next(status);
      },
    });
  };
}
