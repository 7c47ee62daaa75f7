/** Injection token of the service's `PlatformConfig` (typed, frozen, parsed once at boot). */
export const PLATFORM_CONFIG: unique symbol = Symbol('aibox.PLATFORM_CONFIG');

/** Injection token of the service's pino `Logger`. */
export const LOGGER: unique symbol = Symbol('aibox.LOGGER');

/** Injection token of the service's prom-client `Registry`, served at `GET /metrics`. */
export const METRICS: unique symbol = Symbol('aibox.METRICS');
