import { queryOptions, useQuery } from '@tanstack/react-query';

import { apiJson } from '../api/client.js';

/** The principal the gateway stamps for the caller (`GET /v1/me`): the authority on roles and tenant. */
export interface Me {
  readonly tid: string;
  readonly uid: string;
  readonly email: string;
  readonly roles: readonly string[];
}

/** `GET /v1/me` as one query, for the hook and for code that reads it outside React. */
export function meQuery() {
  return queryOptions({
    queryKey: ['me'],
    queryFn: ({ signal }) => apiJson<Me>('/v1/me', { signal }),
    staleTime: 60_000,
  });
}

export function useMe() {
  return useQuery(meQuery());
}

/** Whether the caller has the `admin` role (false while unknown). */
export function useIsAdmin(): boolean {
  return useMe().data?.roles.includes('admin') ?? false;
}
