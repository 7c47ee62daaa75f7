import 'reflect-metadata';

import { ConfigError, EXIT_CONFIG, loadConfig, runService, SERVICE_HTTP_PORTS } from '@aibox/platform';

import { gatewayConfigSchema, resolveGatewaySettings } from './config/gateway-config.schema.js';
import { GATEWAY_PUBLIC_ROUTES } from './controllers/public-routes.js';
import { GatewayModule } from './gateway.module.js';

// The gateway's own refusals (production without issuers or a service-token secret) are checked again
// when the module starts; checking them here first keeps the refusal to its one line, before Nest logs.
try {
  resolveGatewaySettings(
    loadConfig(gatewayConfigSchema, process.env, { defaults: { PORT: String(SERVICE_HTTP_PORTS.gateway) } }),
  );
} catch (error: unknown) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(EXIT_CONFIG);
}

await runService({
  name: 'gateway',
  module: GatewayModule,
  configSchema: gatewayConfigSchema,
  publicRoutes: GATEWAY_PUBLIC_ROUTES,
});
