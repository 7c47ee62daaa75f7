// Boot
export { bootService, DEFAULT_BODY_LIMIT_BYTES, READINESS_INTERVAL_MS } from './boot/boot-service.js';
export type { BootedService, BootServiceOptions } from './boot/boot-service.js';
export { runService, EXIT_CONFIG, EXIT_FAILURE } from './boot/run-service.js';
export { PlatformModule } from './boot/platform.module.js';
export type { PlatformProviders } from './boot/platform.module.js';
export { LOGGER, METRICS, PLATFORM_CONFIG } from './boot/platform.tokens.js';
export { CLOSEABLES, Closeables } from './boot/closeables.js';
export type { Closeable, CloseFailureListener } from './boot/closeables.js';
export { GrpcServer, PROTO_LOADER_OPTIONS, servicesOf } from './boot/grpc-server.js';
export type { GrpcServiceOptions } from './boot/grpc-server.js';
export { CORRELATION_ID_HEADER, installHttpHooks } from './boot/http-hooks.js';
export type { HttpHooksOptions } from './boot/http-hooks.js';

// Config
export { AIBOX_ENVS, baseConfigSchema, LOG_LEVELS } from './config/base-config.schema.js';
export type { AiboxEnv, BaseConfig, BaseConfigSchema, LogLevel } from './config/base-config.schema.js';
export { ConfigError } from './config/config.error.js';
export type { ConfigErrorKind } from './config/config.error.js';
export { loadConfig, redactConfig, secretSettingNames } from './config/load-config.js';
export type { Environment, LoadConfigOptions, PlatformConfig } from './config/load-config.js';
export {
  enforceConfigPolicy,
  isBuiltInIdentityIssuer,
  isDevelopmentKid,
  MIN_PRODUCTION_KEY_BYTES,
} from './config/production-policy.js';
export {
  GRPC_PORT_OFFSET,
  GRPC_SERVICES,
  isServiceName,
  MAX_HTTP_PORT,
  SERVICE_HTTP_PORTS,
  settingPrefix,
} from './config/service-ports.js';
export type { ServiceName } from './config/service-ports.js';
export {
  base64KeySetting,
  enumSetting,
  flagSetting,
  grpcTargetSetting,
  intSetting,
  isSecretSetting,
  keySetSetting,
  secret,
  textSetting,
  urlListSetting,
  urlSetting,
} from './config/settings.js';

// Logging
export { createLogger, REDACTED, redactionPaths, SECRET_FIELDS, SECRET_HEADERS } from './logging/logger.js';
export type { CreateLoggerOptions, Logger } from './logging/logger.js';
export { PinoNestLogger } from './logging/nest-logger.js';

// Metrics
export {
  createMetricsRegistry,
  GrpcMetrics,
  HttpMetrics,
  Registry,
  UNMATCHED_ROUTE,
} from './metrics/metrics.js';
export { grpcMetricsInterceptor } from './metrics/grpc-metrics.interceptor.js';

// Health
export { HealthController } from './health/health.controller.js';
export type { NotReadyBody, ReadyBody } from './health/health.controller.js';
export {
  provideReadinessCheck,
  provideReadinessDetail,
  Readiness,
  READINESS_CHECK_TIMEOUT_MS,
  READINESS_CHECKS,
} from './health/readiness.js';
export type {
  CheckFailureListener,
  CheckStatus,
  ReadinessCheck,
  ReadinessCheckFactory,
  ReadinessDetail,
  ReadinessDetailFactory,
  ReadinessListener,
  ReadinessReport,
} from './health/readiness.js';

// Request context
export {
  contextLogFields,
  createRequestContext,
  currentContext,
  runWithContext,
  setContextCapToken,
  setContextPrincipal,
  setContextTurnId,
} from './context/request-context.js';
export type { ContextLogFields, RequestContext } from './context/request-context.js';
export {
  grpcMetadataValue,
  httpRequestContext,
  installGrpcRequestContext,
  installHttpRequestContext,
} from './context/request-context.hooks.js';
export type { ProcessingHookTarget } from './context/request-context.hooks.js';

// Errors
export { describePlatformError, PlatformError, ServiceError } from './errors/service.error.js';
export type { ErrorDescription, PlatformErrorCode, ServiceErrorOptions } from './errors/service.error.js';
export { describeError } from './errors/error-reply.js';
export type { DescribeErrorOptions, ErrorReply } from './errors/error-reply.js';
export { HttpErrorFilter } from './errors/http-error.filter.js';
export type { HttpErrorBody, HttpErrorFilterOptions } from './errors/http-error.filter.js';
export { GrpcCallError, GrpcErrorInterceptor, toGrpcError } from './errors/grpc-error.interceptor.js';
export type { GrpcErrorOptions } from './errors/grpc-error.interceptor.js';
export { nestRequestLogger, REQUEST_LOGGER } from './errors/request-logger.js';
export type { RequestLogger } from './errors/request-logger.js';

// Auth
export { Public, RequireCapability, RequireRole } from './auth/auth.decorators.js';
export {
  CAPTOKEN_KEYS,
  CLOCK_SKEW_SECONDS,
  PRINCIPAL_KEYS,
  PUBLIC_ROUTE,
  REQUIRED_CAPABILITIES,
  REQUIRED_ROLES,
} from './auth/auth.tokens.js';
export { PrincipalGuard } from './auth/principal.guard.js';
export { CapabilityGuard } from './auth/capability.guard.js';
export { CurrentPrincipal } from './auth/current-principal.decorator.js';
export { principalHeaders, principalMetadata } from './auth/outgoing-identity.js';
export type { OutgoingIdentityOptions } from './auth/outgoing-identity.js';
export { presentedIdentity, verifiedPrincipal } from './auth/request-identity.js';
export type { PresentedIdentity } from './auth/request-identity.js';
export {
  assertEveryRouteHasAuthDecision,
  HEALTH_ROUTES,
  listRouteAuthDecisions,
} from './auth/route-auth.check.js';
export type { RouteAuthCheckOptions, RouteAuthDecision } from './auth/route-auth.check.js';

// Validation
export { ByteLimit } from './streams/byte-limit.js';
export { ZodPipe } from './validation/zod.pipe.js';
export type { ValidationIssue } from './validation/zod.pipe.js';

// Secrets at rest
export { SealedTextUnreadable, SecretCipher } from './secrets/secret-cipher.js';
