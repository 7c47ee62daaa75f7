/** What every store handle offers the platform: readiness and shutdown. */
export interface Store {
  readonly kind: string;
  readonly adapter: string;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type StoreErrorCode =
  // SQL and vector stores
  | 'store_config_invalid'
  | 'store_closed'
  | 'store_unavailable'
  | 'migration_failed'
  | 'tenant_invalid'
  | 'collection_invalid'
  | 'collection_unknown'
  | 'vector_dimension_mismatch'
  | 'vector_invalid'
  | 'point_invalid'
  | 'query_invalid'
  // cache, rate limiter and object stores
  | 'key_invalid'
  | 'value_invalid'
  | 'value_too_large'
  | 'value_not_integer'
  | 'ttl_invalid'
  | 'amount_invalid'
  | 'cache_unavailable'
  | 'content_type_invalid'
  | 'checksum_invalid'
  | 'checksum_mismatch'
  | 'body_invalid'
  | 'body_unreadable'
  | 'object_too_large'
  | 'object_corrupt'
  | 'limit_invalid'
  | 'objects_unavailable';

export class StoreError extends Error {
  override readonly name = 'StoreError';

  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
