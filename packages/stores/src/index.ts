export { StoreError } from './store.js';
export type { Store, StoreErrorCode } from './store.js';
export * from './sql/index.js';
export * from './cache/index.js';
export * from './vectors/index.js';
export * from './objects/index.js';
