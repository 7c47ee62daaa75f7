import type { Provider } from '@nestjs/common';

import { CLOSEABLES, LOGGER, PLATFORM_CONFIG, type Closeables, type Logger } from '@aibox/platform';
import type { SqlStore } from '@aibox/stores';

import { ConversationsController } from './controllers/conversations.controller.js';
import { ConversationRepository } from './repositories/conversation.repository.js';
import type { RuntimeTables } from './repositories/runtime-schema.js';
import { RUNTIME_SQL, type RuntimeConfig } from './runtime.tokens.js';
import { ConversationPurger } from './services/conversation-purger.js';
import { ConversationsService } from './services/conversations.service.js';

export const CONVERSATION_CONTROLLERS = [ConversationsController];

export const CONVERSATION_PROVIDERS: Provider[] = [
  {
    provide: ConversationRepository,
    inject: [RUNTIME_SQL],
    useFactory: (sql: SqlStore<RuntimeTables>) => new ConversationRepository(sql),
  },
  {
    provide: ConversationsService,
    inject: [ConversationRepository],
    useFactory: (conversations: ConversationRepository) => new ConversationsService(conversations),
  },
  {
    provide: ConversationPurger,
    inject: [PLATFORM_CONFIG, ConversationRepository, LOGGER, CLOSEABLES],
    useFactory: (
      config: RuntimeConfig,
      conversations: ConversationRepository,
      logger: Logger,
      closeables: Closeables,
    ) =>
      // Registered after the SQL store, so it stops (and finishes its sweep) before the store closes.
      closeables.add(
        'conversation-purger',
        new ConversationPurger(
          conversations,
          { purgeAfterS: config.AGENT_PURGE_AFTER_S, intervalMs: config.AGENT_PURGE_INTERVAL_MS },
          logger.child({ component: 'conversation-purger' }),
        ).start(),
      ),
  },
];
