export { openObjectStore } from './object.store.js';
export type {
  ListObjectsOptions,
  ObjectBody,
  ObjectInfo,
  ObjectListPage,
  ObjectStore,
  ObjectStoreOptions,
  PutObjectOptions,
} from './object.store.js';
export { LIST_LIMIT_MAX, OBJECT_KEY_MAX_BYTES, OBJECT_SEGMENT_MAX_BYTES } from './object-names.js';
export { S3_OBJECT_MAX_BYTES, S3_PART_BYTES } from './s3-objects.js';
export type { S3Settings } from './s3-objects.js';
