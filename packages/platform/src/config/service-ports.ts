/** HTTP ports of the mesh (ARCHITECTURE §1); a service's gRPC port is its HTTP port + 1000. */
export const SERVICE_HTTP_PORTS = {
  gateway: 8080,
  identity: 8011,
  'agent-runtime': 8001,
  guardrail: 8002,
  memory: 8003,
  'inference-router': 8004,
  'code-sandbox': 8006,
  knowledge: 8007,
  audit: 8008,
} as const satisfies Record<string, number>;

export type ServiceName = keyof typeof SERVICE_HTTP_PORTS;

/** Services that serve gRPC, so that have a `<SERVICE>_GRPC_URL`. */
export const GRPC_SERVICES = [
  'agent-runtime',
  'guardrail',
  'memory',
  'code-sandbox',
  'knowledge',
  'audit',
] as const satisfies readonly ServiceName[];

/** The offset between a service's HTTP port and its gRPC port. */
export const GRPC_PORT_OFFSET = 1000;

/** The highest HTTP port whose gRPC twin (port + 1000) still exists. */
export const MAX_HTTP_PORT = 65_535 - GRPC_PORT_OFFSET;

export function isServiceName(name: string): name is ServiceName {
  return Object.hasOwn(SERVICE_HTTP_PORTS, name);
}

/** `agent-runtime` → `AGENT_RUNTIME`, the prefix of its `_URL` and `_GRPC_URL` settings. */
export function settingPrefix(service: ServiceName): string {
  return service.toUpperCase().replaceAll('-', '_');
}
