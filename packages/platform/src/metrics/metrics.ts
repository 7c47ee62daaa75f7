import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Registry } from 'prom-client';

/** The route label of a request no route matched, so unknown URLs never mint new series. */
export const UNMATCHED_ROUTE = 'unmatched';

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A registry with the process metrics prom-client collects by default (CPU, memory, event loop, GC). */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** `http_requests_total{method,route,status}` and `http_request_duration_seconds{method,route}`. */
export class HttpMetrics {
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status code.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time from receiving an HTTP request to sending its response, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
  }

  /** `route` is the route pattern (`/v1/items/:id`), never the raw URL. */
  observe(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.duration.observe({ method, route }, seconds);
  }
}

/** `grpc_requests_total{method,code}` and `grpc_request_duration_seconds{method}`. */
export class GrpcMetrics {
  private readonly requests: Counter<'method' | 'code'>;
  private readonly duration: Histogram<'method'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'grpc_requests_total',
      help: 'gRPC calls finished, by full method name and status code name.',
      labelNames: ['method', 'code'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'grpc_request_duration_seconds',
      help: 'Time from the start of a gRPC call to its status, by full method name.',
      labelNames: ['method'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
  }

  /** `method` is the full name (`aibox.v1.AuditService/Log`); `code` the status name (`OK`, `NOT_FOUND`). */
  observe(method: string, code: string, seconds: number): void {
    this.requests.inc({ method, code });
    this.duration.observe({ method }, seconds);
  }
}
