import { join, resolve } from 'node:path';

import { Module } from '@nestjs/common';

import { AuditClient } from '@aibox/audit-client';
import {
  CLOSEABLES,
  LOGGER,
  PLATFORM_CONFIG,
  provideReadinessCheck,
  type Closeables,
  type Logger,
} from '@aibox/platform';
import { openSqlStore, type SqlStore } from '@aibox/stores';

import { CATALOG_CONTROLLERS, CATALOG_PROVIDERS } from './catalog.providers.js';
import { ApprovalsController } from './controllers/approvals.controller.js';
import { ChatController } from './controllers/chat.controller.js';
import { ReplayController } from './controllers/replay.controller.js';
import { CONVERSATION_CONTROLLERS, CONVERSATION_PROVIDERS } from './conversations.providers.js';
import { ApprovalRepository } from './repositories/approval.repository.js';
import { ConversationRepository } from './repositories/conversation.repository.js';
import { RouterClient } from './repositories/router-client.js';
import { SandboxClient } from './repositories/sandbox-client.js';
import { RUNTIME_MIGRATIONS, type RuntimeTables } from './repositories/runtime-schema.js';
import { TurnAuditRepository } from './repositories/turn-audit.repository.js';
import { TurnRepository } from './repositories/turn.repository.js';
import { RUNTIME_SQL, type RuntimeConfig } from './runtime.tokens.js';
import { AgentCatalog } from './services/agent-catalog.service.js';
import { ApprovalsService } from './services/approvals.service.js';
import { ChatService } from './services/chat.service.js';
import { TurnRunner } from './services/turn-runner.js';
import { TurnStreams } from './services/turn-stream.js';
import { builtinTools } from './tools/builtin/index.js';
import { McpHub } from './tools/mcp/mcp-hub.js';
import { ToolRegistry } from './tools/tool-registry.js';

/** A title is a short answer: it may take this long before the first words stand in. */
const TITLE_TIMEOUT_MS = 30_000;

function principalKeysOf(config: RuntimeConfig): NonNullable<RuntimeConfig['AIBOX_PRINCIPAL_KEYS']> {
  if (config.AIBOX_PRINCIPAL_KEYS === undefined) throw new Error('AIBOX_PRINCIPAL_KEYS missing');
  return config.AIBOX_PRINCIPAL_KEYS;
}

@Module({
  controllers: [
    ChatController,
    ApprovalsController,
    ReplayController,
    ...CATALOG_CONTROLLERS,
    ...CONVERSATION_CONTROLLERS,
  ],
  providers: [
    {
      provide: RUNTIME_SQL,
      inject: [PLATFORM_CONFIG, CLOSEABLES],
      useFactory: async (config: RuntimeConfig, closeables: Closeables): Promise<SqlStore<RuntimeTables>> => {
        const sql = closeables.add(
          'sql',
          await openSqlStore<RuntimeTables>({
            service: 'agent-runtime',
            schema: config.AGENT_SQL_SCHEMA,
            ...(config.DATABASE_URL === undefined
              ? { dataDir: join(resolve(config.AIBOX_DATA_DIR, 'agent-runtime'), 'pglite') }
              : { databaseUrl: config.DATABASE_URL }),
          }),
        );
        await sql.migrate(RUNTIME_MIGRATIONS);
        return sql;
      },
    },
    ...CATALOG_PROVIDERS,
    ...CONVERSATION_PROVIDERS,
    {
      provide: TurnRepository,
      inject: [RUNTIME_SQL],
      useFactory: (sql: SqlStore<RuntimeTables>) => new TurnRepository(sql),
    },
    {
      provide: ApprovalsService,
      inject: [PLATFORM_CONFIG, RUNTIME_SQL],
      useFactory: (config: RuntimeConfig, sql: SqlStore<RuntimeTables>) =>
        new ApprovalsService(new ApprovalRepository(sql), config.AGENT_APPROVAL_TTL_S * 1000),
    },
    {
      provide: TurnAuditRepository,
      inject: [PLATFORM_CONFIG, CLOSEABLES, LOGGER],
      useFactory: (config: RuntimeConfig, closeables: Closeables, logger: Logger) => {
        const client = closeables.add(
          'audit-client',
          new AuditClient({
            target: config.AUDIT_GRPC_URL,
            service: 'agent-runtime',
            principalKeys: principalKeysOf(config),
            spoolDir: join(config.AIBOX_DATA_DIR, 'agent-runtime', 'audit-spool'),
            logger: logger.child({ component: 'audit-client' }),
          }),
        );
        return new TurnAuditRepository(client);
      },
    },
    {
      provide: RouterClient,
      inject: [PLATFORM_CONFIG],
      useFactory: (config: RuntimeConfig) =>
        new RouterClient({
          baseUrl: config.INFERENCE_ROUTER_URL.replace(/\/+$/, ''),
          principalKeys: principalKeysOf(config),
          headersTimeoutMs: config.AGENT_ROUTER_TIMEOUT_MS,
        }),
    },
    {
      provide: ToolRegistry,
      inject: [PLATFORM_CONFIG, CLOSEABLES, LOGGER],
      useFactory: (config: RuntimeConfig, closeables: Closeables, logger: Logger) => {
        const hub = closeables.add(
          'mcp',
          new McpHub({
            connectTimeoutMs: config.AGENT_MCP_CONNECT_TIMEOUT_MS,
            refreshMs: config.AGENT_MCP_REFRESH_MS,
            logger: logger.child({ component: 'mcp' }),
          }),
        );
        const builtins = builtinTools({
          httpFetch: {
            enabled: config.AGENT_HTTP_FETCH_ENABLED,
            allow: config.AGENT_HTTP_FETCH_ALLOW,
            maxBytes: config.AGENT_HTTP_FETCH_MAX_BYTES,
            timeoutMs: config.AGENT_HTTP_FETCH_TIMEOUT_MS,
          },
          sandbox: new SandboxClient(config.CODE_SANDBOX_URL.replace(/\/+$/, ''), principalKeysOf(config)),
          now: () => new Date(),
        });
        return new ToolRegistry(
          {
            defaultTimeoutMs: config.AGENT_TOOL_TIMEOUT_MS,
            outputMaxBytes: config.AGENT_TOOL_OUTPUT_MAX_BYTES,
          },
          builtins,
          hub,
        );
      },
    },
    {
      provide: TurnStreams,
      inject: [PLATFORM_CONFIG],
      useFactory: (config: RuntimeConfig) => new TurnStreams(config.AGENT_STREAM_RETAIN_S * 1000),
    },
    {
      provide: ChatService,
      inject: [
        PLATFORM_CONFIG,
        ConversationRepository,
        AgentCatalog,
        ToolRegistry,
        TurnRepository,
        TurnStreams,
        TurnAuditRepository,
        RouterClient,
        ApprovalsService,
        LOGGER,
        CLOSEABLES,
      ],
      useFactory: async (
        config: RuntimeConfig,
        conversations: ConversationRepository,
        catalog: AgentCatalog,
        registry: ToolRegistry,
        turns: TurnRepository,
        streams: TurnStreams,
        audit: TurnAuditRepository,
        router: RouterClient,
        approvals: ApprovalsService,
        logger: Logger,
        closeables: Closeables,
      ): Promise<ChatService> => {
        const runner = new TurnRunner(
          router,
          audit,
          approvals,
          { maxSteps: config.AGENT_MAX_STEPS, maxTokens: config.AGENT_MAX_TURN_TOKENS },
          logger.child({ component: 'turn' }),
        );
        // Registered after the audit client: turns still ending are sealed before it closes.
        const chat = closeables.add(
          'turns',
          new ChatService(
            conversations,
            catalog,
            registry,
            runner,
            turns,
            streams,
            audit,
            router,
            {
              sealDelayMs: config.AGENT_SEAL_DELAY_MS,
              titles: config.AGENT_TITLES,
              titleTimeoutMs: TITLE_TIMEOUT_MS,
            },
            logger.child({ component: 'chat' }),
          ),
        );
        await chat.recover();
        return chat;
      },
    },
    provideReadinessCheck('sql', {
      inject: [RUNTIME_SQL],
      useFactory: (sql: SqlStore<RuntimeTables>) => () => sql.ping(),
    }),
  ],
})
export class RuntimeModule {}
