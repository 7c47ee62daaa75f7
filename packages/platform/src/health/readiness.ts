import type { FactoryProvider, InjectionToken } from '@nestjs/common';

/** One thing a service needs before it can serve: a store reachable, a migration applied. */
export interface ReadinessCheck {
  /** Short and stable (`sql`, `cache`, `objects`): it names the check in `/readyz`. */
  readonly name: string;
  /** Resolves when ready; rejects (or outlasts the timeout) when not. */
  check(): Promise<void>;
}

export type CheckStatus = 'ok' | 'failed' | 'timed_out';

export interface ReadinessReport {
  ready: boolean;
  draining: boolean;
  checks: Record<string, CheckStatus>;
  /** What the service can and cannot do while ready (a sandbox runtime the machine lacks); never fails it. */
  details?: Record<string, unknown>;
}

/**
 * Something `/readyz` reports without making readiness depend on it: a capability the service does without
 * (and refuses per request). A detail that throws or outlasts the timeout is reported as `unknown`.
 */
export interface ReadinessDetail {
  readonly name: string;
  describe(): Promise<unknown>;
}

/** How long one check may take before it counts as failed. */
export const READINESS_CHECK_TIMEOUT_MS = 2_000;

type Outcome = { status: 'ok' } | { status: 'failed'; error: unknown } | { status: 'timed_out' };

function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      resolve({ status: 'timed_out' });
    }, timeoutMs);
  });
  const outcome = Promise.resolve()
    .then(() => check.check())
    .then(
      (): Outcome => ({ status: 'ok' }),
      (error: unknown): Outcome => ({ status: 'failed', error }),
    );
  return Promise.race([outcome, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

export type ReadinessListener = (report: ReadinessReport) => void;
export type CheckFailureListener = (name: string, outcome: 'failed' | 'timed_out', error?: unknown) => void;

/**
 * The service's readiness: the checks its modules registered, and whether it is draining for shutdown.
 * Injected as `READINESS_CHECKS`; add checks with {@link provideReadinessCheck} or `add()`.
 */
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly details = new Map<string, ReadinessDetail>();
  private readonly listeners = new Set<ReadinessListener>();
  private isDraining = false;
  private lastReady: boolean | undefined;

  constructor(
    private readonly onCheckFailure: CheckFailureListener = () => undefined,
    private readonly timeoutMs = READINESS_CHECK_TIMEOUT_MS,
  ) {}

  add(check: ReadinessCheck): void {
    if (this.checks.has(check.name)) {
      throw new Error(`a readiness check named "${check.name}" is already registered`);
    }
    this.checks.set(check.name, check);
  }

  addDetail(detail: ReadinessDetail): void {
    if (this.details.has(detail.name)) {
      throw new Error(`a readiness detail named "${detail.name}" is already registered`);
    }
    this.details.set(detail.name, detail);
  }

  get names(): readonly string[] {
    return [...this.checks.keys()];
  }

  get draining(): boolean {
    return this.isDraining;
  }

  /** From now on the service reports not ready, whatever its checks say. */
  markDraining(): void {
    this.isDraining = true;
    this.publish({ ready: false, draining: true, checks: {} });
  }

  /** Called with every report whose readiness differs from the previous one. */
  onChange(listener: ReadinessListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Runs every check concurrently, each bounded by the timeout. */
  async evaluate(): Promise<ReadinessReport> {
    const checks: Record<string, CheckStatus> = {};
    const entries = [...this.checks.values()];
    const [outcomes, details] = await Promise.all([
      Promise.all(entries.map((check) => runCheck(check, this.timeoutMs))),
      this.describe(),
    ]);
    let ready = !this.isDraining;
    for (const [index, outcome] of outcomes.entries()) {
      const name = entries[index]?.name ?? String(index);
      checks[name] = outcome.status;
      if (outcome.status !== 'ok') {
        ready = false;
        this.onCheckFailure(name, outcome.status, outcome.status === 'failed' ? outcome.error : undefined);
      }
    }
    const report: ReadinessReport = {
      ready,
      draining: this.isDraining,
      checks,
      ...(details === undefined ? {} : { details }),
    };
    this.publish(report);
    return report;
  }

  private async describe(): Promise<Record<string, unknown> | undefined> {
    if (this.details.size === 0) return undefined;
    const entries = [...this.details.values()];
    const described = await Promise.all(
      entries.map(async (detail) => {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<unknown>((resolve) => {
          timer = setTimeout(() => {
            resolve('unknown');
          }, this.timeoutMs);
        });
        const value = Promise.resolve()
          .then(() => detail.describe())
          .catch(() => 'unknown');
        return Promise.race([value, timeout]).finally(() => {
          clearTimeout(timer);
        });
      }),
    );
    return Object.fromEntries(entries.map((detail, index) => [detail.name, described[index]]));
  }

  private publish(report: ReadinessReport): void {
    if (report.ready === this.lastReady) return;
    this.lastReady = report.ready;
    for (const listener of this.listeners) listener(report);
  }
}

/** Injection token of the service's {@link Readiness}. */
export const READINESS_CHECKS: unique symbol = Symbol('aibox.READINESS_CHECKS');

export interface ReadinessCheckFactory {
  /** What the factory needs (repositories, clients), as for any Nest factory provider. */
  inject?: InjectionToken[];
  /** Returns the check: resolves when ready, rejects when not. */
  useFactory: (...deps: never[]) => () => Promise<void>;
}

/**
 * A provider that registers a readiness check when its module is instantiated. List it in the module's
 * `providers`:
 *
 * ```ts
 * providers: [provideReadinessCheck('sql', { inject: [SQL], useFactory: (sql: Sql) => () => sql.ping() })]
 * ```
 */
export function provideReadinessCheck(
  name: string,
  factory: ReadinessCheckFactory,
): FactoryProvider<ReadinessCheck> {
  return {
    provide: Symbol(`aibox.readiness.${name}`),
    inject: [READINESS_CHECKS, ...(factory.inject ?? [])],
    useFactory: (readiness: Readiness, ...deps: unknown[]): ReadinessCheck => {
      const check: ReadinessCheck = {
        name,
        check: (factory.useFactory as (...args: unknown[]) => () => Promise<void>)(...deps),
      };
      readiness.add(check);
      return check;
    },
  };
}

export interface ReadinessDetailFactory {
  inject?: InjectionToken[];
  /** Returns what `/readyz` shows under `details.<name>`. */
  useFactory: (...deps: never[]) => () => Promise<unknown>;
}

/** A provider that registers a {@link ReadinessDetail}, as {@link provideReadinessCheck} does a check. */
export function provideReadinessDetail(
  name: string,
  factory: ReadinessDetailFactory,
): FactoryProvider<ReadinessDetail> {
  return {
    provide: Symbol(`aibox.readiness-detail.${name}`),
    inject: [READINESS_CHECKS, ...(factory.inject ?? [])],
    useFactory: (readiness: Readiness, ...deps: unknown[]): ReadinessDetail => {
      const detail: ReadinessDetail = {
        name,
        describe: (factory.useFactory as (...args: unknown[]) => () => Promise<unknown>)(...deps),
      };
      readiness.addDetail(detail);
      return detail;
    },
  };
}
