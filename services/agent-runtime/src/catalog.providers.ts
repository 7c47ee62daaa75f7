import type { Provider, Type } from '@nestjs/common';

import { PLATFORM_CONFIG } from '@aibox/platform';
import type { SqlStore } from '@aibox/stores';

import { AgentsController } from './controllers/agents.controller.js';
import { SkillsController } from './controllers/skills.controller.js';
import { AgentRepository } from './repositories/agent.repository.js';
import type { RuntimeTables } from './repositories/runtime-schema.js';
import { SkillRepository } from './repositories/skill.repository.js';
import { RUNTIME_SQL, type RuntimeConfig } from './runtime.tokens.js';
import { AgentCatalog, SkillCatalog } from './services/agent-catalog.service.js';

/** `/v1/agents` and `/v1/skills`. */
export const CATALOG_CONTROLLERS: Type[] = [AgentsController, SkillsController];

/** Agents and skills: their repositories, the catalogs the controllers and the turn engine use. */
export const CATALOG_PROVIDERS: Provider[] = [
  {
    provide: AgentRepository,
    inject: [RUNTIME_SQL],
    useFactory: (sql: SqlStore<RuntimeTables>) => new AgentRepository(sql),
  },
  {
    provide: SkillRepository,
    inject: [RUNTIME_SQL],
    useFactory: (sql: SqlStore<RuntimeTables>) => new SkillRepository(sql),
  },
  {
    provide: AgentCatalog,
    inject: [AgentRepository, SkillRepository, PLATFORM_CONFIG],
    useFactory: (agents: AgentRepository, skills: SkillRepository, config: RuntimeConfig) =>
      new AgentCatalog(agents, skills, { defaultSystemPrompt: config.AGENT_DEFAULT_SYSTEM_PROMPT }),
  },
  {
    provide: SkillCatalog,
    inject: [SkillRepository],
    useFactory: (skills: SkillRepository) => new SkillCatalog(skills),
  },
];
