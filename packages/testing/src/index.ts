export {
  CHROMIUM_PATH,
  DEFAULT_POSTGRES_URL,
  DEFAULT_REDIS_URL,
  DEPENDENCIES,
  needs,
  postgresUrl,
  probe,
  redisUrl,
  requiredDependencies,
} from './dependencies.js';
export type { Dependency, Presence } from './dependencies.js';
export { acquireLock, withExclusiveLock } from './exclusive-lock.js';
export type { LockOptions, ReleaseLock } from './exclusive-lock.js';
export { freePort, freePortPair } from './ports.js';
export { dropSchemas } from './postgres.js';
export { readSse } from './sse.js';
export type { SseEvent } from './sse.js';
