import type { VerifyReport } from '@aibox/audit-proof';
import { queryOptions, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useCallback, useState, type RefCallback } from 'react';

import { errorCode } from '../api/ErrorAlert.js';
import { meQuery } from '../auth/me.js';
import { rememberCheckpoint, witnessFor } from './checkpoint-witness.js';
import {
  checkReceipt,
  fetchAuditKeys,
  fetchReceiptProofSince,
  isReceiptPending,
  keepPollingWhileSealing,
  sealingRetryDelay,
  type FetchedProof,
  type ReceiptOutcome,
} from './receipt-verification.js';
import { verifiedTokenCount, type TokenCount } from './token-count.js';

/** How old the cached keys may be before a checkpoint by an unknown key makes us fetch them again. */
const KEYS_REFRESH_AFTER_MS = 30_000;

/** The checkpoint keys, fetched once for the session: every receipt of the tenant verifies against them. */
export function auditKeysQuery() {
  return queryOptions({
    queryKey: ['audit', 'keys'],
    queryFn: ({ signal }) => fetchAuditKeys(signal),
    staleTime: Infinity,
    gcTime: Infinity,
  });
}

type CheckedOutcome = Extract<ReceiptOutcome, { kind: 'checked' }>;
export type VerifiedOutcome = Omit<CheckedOutcome, 'report'> & {
  readonly report: Extract<VerifyReport, { ok: true }>;
};
export type FailedOutcome = Omit<CheckedOutcome, 'report'> & {
  readonly report: Extract<VerifyReport, { ok: false }>;
};

/** Where a receipt stands in the browser: a state machine the badge and the panel render. */
export type ReceiptState =
  | { readonly status: 'verifying' }
  /** The turn is not sealed yet; polled with backoff. */
  | { readonly status: 'sealing' }
  | { readonly status: 'verified'; readonly outcome: VerifiedOutcome }
  | { readonly status: 'failed'; readonly outcome: FailedOutcome }
  | {
      readonly status: 'unavailable';
      readonly code: string;
      readonly message: string;
      /** The proof, when it was fetched but could not be checked here. */
      readonly proof?: FetchedProof;
      readonly retry: () => void;
    };

/**
 * The caller's tenant, whose log the receipts are in (`GET /v1/me`, as `useMe` reads it; any cached answer
 * will do). When it cannot be read the receipt is unavailable: verifying without the remembered checkpoint
 * would let a server skip that check by failing this request.
 */
async function callerTenant(queryClient: QueryClient): Promise<string> {
  const me = await queryClient.query({ ...meQuery(), staleTime: Infinity });
  return me.tid;
}

/**
 * A turn's receipt, fetched and verified in the browser: one query per turn, so everything that shows the
 * receipt (the badge, the panel, the answer's token count) shares one request and one verdict. The checkpoint
 * this browser remembers for the log is read inside the query, not put in its key, for the same reason; a
 * receipt that verifies leaves its own checkpoint remembered for the next one.
 */
function receiptQuery(turnId: string, queryClient: QueryClient) {
  return queryOptions({
    queryKey: ['receipts', turnId, 'verification'],
    queryFn: async ({ signal }) => {
      const tenantId = await callerTenant(queryClient);
      const freshKeys = () => queryClient.query({ ...auditKeysQuery(), staleTime: KEYS_REFRESH_AFTER_MS });
      const { checkpoint, keys } = await witnessFor(
        tenantId,
        await queryClient.query(auditKeysQuery()),
        freshKeys,
      );
      const proof = await fetchReceiptProofSince(turnId, checkpoint, signal);
      const outcome = await checkReceipt(proof, keys, freshKeys, checkpoint);
      // A failed receipt leaves the remembered checkpoint as it was: every later one is checked against it.
      if (outcome.kind === 'checked' && outcome.report.ok && outcome.receipt !== undefined)
        rememberCheckpoint(outcome.receipt.log.checkpoint);
      return outcome;
    },
    // A sealed turn's proof never changes; polling is only for the seal.
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    retry: keepPollingWhileSealing,
    retryDelay: sealingRetryDelay,
  });
}

/**
 * Fetches a turn's receipt proof and the audit keys and verifies the proof in the browser, polling while the
 * turn is being sealed. `enabled: false` holds the fetch (until the badge is first on screen).
 */
export function useReceipt(turnId: string, { enabled = true }: { enabled?: boolean } = {}): ReceiptState {
  const queryClient = useQueryClient();
  const query = useQuery({ ...receiptQuery(turnId, queryClient), enabled });
  const { refetch } = query;
  const retry = useCallback(() => {
    void refetch();
  }, [refetch]);

  const outcome = query.data;
  if (outcome !== undefined) {
    if (outcome.kind === 'unverifiable') {
      return {
        status: 'unavailable',
        code: 'receipt_unverifiable',
        message: outcome.message,
        proof: outcome.proof,
        retry,
      };
    }
    const { report } = outcome;
    return report.ok
      ? { status: 'verified', outcome: { ...outcome, report } }
      : { status: 'failed', outcome: { ...outcome, report } };
  }
  if (query.isFetching) return { status: isReceiptPending(query.failureReason) ? 'sealing' : 'verifying' };
  if (query.isError) {
    const { code, message } = errorCode(query.error);
    return { status: 'unavailable', code, message, retry };
  }
  return { status: 'verifying' };
}

/**
 * The tokens a turn used, from its receipt once the browser has verified it; undefined before that, and for a
 * receipt that failed or could not be checked. It never fetches: it reads the verification the receipt badge
 * runs (the same query), so showing the count costs no request.
 */
export function useVerifiedTokenCount(turnId: string): TokenCount | undefined {
  const queryClient = useQueryClient();
  const query = useQuery({
    ...receiptQuery(turnId, queryClient),
    enabled: false,
    select: verifiedTokenCount,
  });
  return query.data;
}

/**
 * Whether the element has been on screen at least once, so a long conversation only fetches and verifies
 * the receipts someone scrolls to. Without IntersectionObserver everything counts as seen.
 */
export function useSeenOnce<T extends Element>(): { ref: RefCallback<T>; seen: boolean } {
  const [seen, setSeen] = useState(() => typeof IntersectionObserver === 'undefined');
  const ref = useCallback(
    (node: T | null) => {
      if (seen || node === null) return undefined;
      const observer = new IntersectionObserver(
        (entries) => {
          if (entries.some((entry) => entry.isIntersecting)) setSeen(true);
        },
        { rootMargin: '200px' },
      );
      observer.observe(node);
      // React 19 runs this when the element goes or the callback changes (once seen).
      return () => {
        observer.disconnect();
      };
    },
    [seen],
  );
  return { ref, seen };
}
