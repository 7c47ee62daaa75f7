import type { Logger } from '@aibox/platform';
import type { SqlStore } from '@aibox/stores';

import { ROLES, type Role } from '../dtos/provider.dto.js';
import type { CredentialCipher } from '../repositories/credential-cipher.js';
import type { RouterTables } from '../repositories/router-schema.js';

export interface SnapshotProvider {
  readonly name: string;
  readonly kind: 'chat_completions' | 'responses';
  readonly baseUrl: string;
  readonly enabled: boolean;
  /** The decrypted key; absent for a keyless provider or one whose stored key does not decrypt. */
  readonly apiKey?: string;
  readonly keyUnreadable: boolean;
}

/** Everything the data path needs to route a request, immutable once built. */
export interface RoutingSnapshot {
  readonly builtAt: Date;
  readonly providers: ReadonlyMap<string, SnapshotProvider>;
  /** Role → `<provider>/<model>`s, first = primary; unset roles are absent. */
  readonly roles: ReadonlyMap<Role, readonly string[]>;
}

const EMPTY: RoutingSnapshot = { builtAt: new Date(0), providers: new Map(), roles: new Map() };

/** Reads providers and roles from the store into a fresh snapshot (keys decrypted once, here). */
export async function loadSnapshot(
  store: SqlStore<RouterTables>,
  cipher: CredentialCipher,
  logger: Logger,
): Promise<RoutingSnapshot> {
  const [providerRows, roleRows] = await Promise.all([
    store.db.selectFrom('providers').selectAll().execute(),
    store.db.selectFrom('model_roles').select(['role', 'models']).execute(),
  ]);
  const providers = new Map<string, SnapshotProvider>();
  for (const row of providerRows) {
    let apiKey: string | undefined;
    let keyUnreadable = false;
    if (row.api_key !== null) {
      try {
        apiKey = cipher.decrypt(row.api_key, row.name);
      } catch (error: unknown) {
        keyUnreadable = true;
        logger.error(
          { err: error, provider: row.name },
          'a provider key does not decrypt; requests to it fail',
        );
      }
    }
    providers.set(row.name, {
      name: row.name,
      kind: row.kind,
      baseUrl: row.base_url,
      enabled: row.enabled,
      keyUnreadable,
      ...(apiKey === undefined ? {} : { apiKey }),
    });
  }
  const known: ReadonlySet<string> = new Set(ROLES);
  const roles = new Map<Role, readonly string[]>();
  for (const row of roleRows) if (known.has(row.role)) roles.set(row.role as Role, row.models);
  return { builtAt: new Date(), providers, roles };
}

/**
 * The lock-free snapshot of ARCHITECTURE §7: the data path reads `current` (a reference swapped whole, never
 * mutated), rebuilt every `refreshMs` and at once after each admin change. A failed rebuild keeps the
 * previous snapshot and is logged; the data path never waits for the database.
 */
export class SnapshotHolder {
  current: RoutingSnapshot = EMPTY;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  /** Counts refresh requests, so one that arrives during a rebuild makes another rebuild follow. */
  private requested = 0;

  constructor(
    private readonly load: () => Promise<RoutingSnapshot>,
    private readonly refreshMs: number,
    private readonly logger: Logger,
  ) {}

  /** Builds the first snapshot (failing boot if it cannot), then refreshes on the interval. */
  async start(): Promise<void> {
    this.current = await this.load();
    this.timer = setInterval(() => {
      void this.refresh();
    }, this.refreshMs);
    this.timer.unref();
  }

  /** Rebuilds now; a call during a rebuild makes one more rebuild follow it, so no change is missed. */
  refresh(): Promise<void> {
    this.requested += 1;
    if (this.inFlight !== undefined) return this.inFlight;
    this.inFlight = (async () => {
      let served: number;
      do {
        served = this.requested;
        try {
          this.current = await this.load();
        } catch (error: unknown) {
          this.logger.error({ err: error }, 'routing snapshot refresh failed; the previous one stays');
        }
      } while (served !== this.requested);
    })().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight;
  }
}
