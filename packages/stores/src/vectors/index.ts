export { openVectorStore } from './vector-store.js';
export type {
  CollectionSpec,
  VectorMatch,
  VectorPoint,
  VectorQuery,
  VectorStore,
  VectorStoreOptions,
} from './vector-store.js';
export { MAX_DIMENSIONS, MAX_K, RESERVED_PAYLOAD_KEYS } from './vector-validation.js';
export type { Payload, PayloadValue } from './vector-validation.js';
