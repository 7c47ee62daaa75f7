import { ErrorAlert } from '../api/ErrorAlert.js';

/** Why a query failed, with a button that reads it again. */
export function QueryError({ query }: { query: { error: unknown; refetch: () => Promise<unknown> } }) {
  return <ErrorAlert error={query.error} onRetry={() => void query.refetch()} />;
}
