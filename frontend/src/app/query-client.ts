import { QueryClient } from '@tanstack/react-query';

import { ApiError } from '../api/api-error.js';

/** The app's one query client: how long answers stay fresh, and which failures are worth another try. */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        // A 4xx will not get better by asking again, except a 429 once the server's `Retry-After` has passed;
        // network errors and 5xx get two more tries.
        retry: (failures, error) =>
          failures < 2 &&
          !(error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429),
        retryDelay: (failures, error) =>
          error instanceof ApiError && error.retryAfterMs !== undefined
            ? Math.min(error.retryAfterMs, 60_000)
            : Math.min(1000 * 2 ** failures, 30_000),
        refetchOnWindowFocus: false,
      },
    },
  });
}
