import { apiFetch, apiJson } from '../../api/client.js';

/** One turn in the admin listing (`GET /v1/admin/audit/turns`). */
export interface TurnSummary {
  readonly turn_id: string;
  readonly user_id: string;
  readonly state: 'open' | 'sealed';
  readonly started_at: string;
  readonly last_event_at: string;
  readonly sealed_at: string | null;
  readonly event_count: number;
  readonly log_index: number | null;
}

export interface TurnPage {
  readonly turns: readonly TurnSummary[];
  readonly next_cursor?: string;
}

/** The listing's filters as the URL keeps them: dates are calendar days (`YYYY-MM-DD`), both inclusive. */
export interface TurnFilters {
  readonly user: string;
  readonly from: string;
  readonly to: string;
  readonly type: string;
}

export type LogFailureCode =
  | 'log_gap'
  | 'envelope_invalid'
  | 'envelope_hash_mismatch'
  | 'chain_link_invalid'
  | 'event_invalid'
  | 'event_count_mismatch'
  | 'events_root_mismatch'
  | 'log_size_mismatch'
  | 'log_node_mismatch'
  | 'checkpoint_invalid'
  | 'checkpoint_mismatch';

/** `GET /v1/admin/audit/verify`: the whole tenant log re-verified from storage. */
export interface LogVerification {
  readonly ok: boolean;
  readonly tenant_id: string;
  readonly tree_size: number;
  readonly turns_checked: number;
  readonly events_checked: number;
  readonly nodes_checked: number;
  readonly checkpoints_checked: number;
  readonly failure?: {
    readonly code: LogFailureCode;
    readonly message: string;
    readonly log_index?: number;
    readonly turn_id?: string;
  };
}

export interface ReplayArtifact {
  readonly kind: string;
  readonly sha256: string;
  readonly size: number;
  readonly content_type: string;
  /** Whether the body was captured; only then can it be downloaded. */
  readonly stored: boolean;
  readonly url: string;
}

export interface ReplayEvent {
  readonly index: number;
  readonly event: {
    readonly event_id: string;
    readonly turn_id: string;
    readonly tenant_id: string;
    readonly user_id: string;
    readonly service: string;
    readonly type: string;
    readonly occurred_at: string;
    readonly attributes: Readonly<Record<string, unknown>>;
    readonly artifacts: readonly unknown[];
  };
  readonly artifacts: readonly ReplayArtifact[];
}

/** `GET /v1/audit/turns/{turn_id}/replay`: the turn's events in commit order. */
export interface Replay {
  readonly turn_id: string;
  readonly tenant_id: string;
  readonly user_id: string;
  readonly state: 'open' | 'sealed';
  readonly events: readonly ReplayEvent[];
}

/** The start of a calendar day in the viewer's time zone, as an ISO instant. */
function dayStart(day: string, plusDays = 0): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (match === null) return undefined;
  const start = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + plusDays);
  return Number.isNaN(start.getTime()) ? undefined : start.toISOString();
}

/** The listing's request: `to` is exclusive on the server, so an inclusive last day becomes the next midnight. */
export function turnsPath(filters: TurnFilters, cursor: string | undefined, limit = 50): string {
  const query = new URLSearchParams();
  if (filters.user.trim() !== '') query.set('user', filters.user.trim());
  const from = dayStart(filters.from);
  if (from !== undefined) query.set('from', from);
  const to = dayStart(filters.to, 1);
  if (to !== undefined) query.set('to', to);
  if (filters.type !== '') query.set('type', filters.type);
  query.set('limit', String(limit));
  if (cursor !== undefined) query.set('cursor', cursor);
  return `/v1/admin/audit/turns?${query.toString()}`;
}

export function fetchTurns(filters: TurnFilters, cursor: string | undefined, signal: AbortSignal) {
  return apiJson<TurnPage>(turnsPath(filters, cursor), { signal });
}

export function verifyLog() {
  return apiJson<LogVerification>('/v1/admin/audit/verify');
}

/** The latest signed checkpoint of the caller's tenant: a C2SP signed note, as text. */
export async function fetchCheckpointNote(signal: AbortSignal): Promise<string> {
  const response = await apiFetch('/v1/audit/checkpoint', { signal, headers: { accept: 'text/plain' } });
  return response.text();
}

export function fetchReplay(turnId: string, signal: AbortSignal) {
  return apiJson<Replay>(`/v1/audit/turns/${encodeURIComponent(turnId)}/replay`, { signal });
}

/** A captured body of an event (`GET /v1/audit/turns/{turn}/artifacts/{event}/{kind}`). */
export function artifactPath(turnId: string, eventId: string, kind: string): string {
  return `/v1/audit/turns/${encodeURIComponent(turnId)}/artifacts/${encodeURIComponent(eventId)}/${encodeURIComponent(kind)}`;
}

export async function fetchArtifact(path: string, signal?: AbortSignal): Promise<Blob> {
  const response = await apiFetch(path, signal === undefined ? {} : { signal });
  return response.blob();
}
