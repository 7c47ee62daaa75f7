import type { PlatformConfig } from '@aibox/platform';

import type { RuntimeConfigSchema } from './config/runtime-config.schema.js';

export type RuntimeConfig = PlatformConfig<RuntimeConfigSchema>;

/** The runtime's `SqlStore<RuntimeTables>`, migrated. */
export const RUNTIME_SQL = Symbol('agent-runtime.SQL');
