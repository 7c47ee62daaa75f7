import type { Logger } from '@aibox/platform';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { SpendScope, UsageRecord, UsageRepository } from '../repositories/usage.repository.js';
import {
  budgetKey,
  periodStart,
  type BudgetRow,
  type BudgetState,
  type Price,
  type RoutingSnapshot,
} from './routing-snapshot.js';
import { UsageMeter, costOf } from './usage-meter.js';

const NOW = new Date('2025-03-15T12:00:00.000Z');
const FLUSH_MS = 60_000;

/** A usage repository in memory: `spent` sums what `insert` took, as the SQL one does. */
class FakeUsageRepository {
  readonly inserted: { tenantId: string; records: UsageRecord[] }[] = [];
  readonly attempts: string[] = [];
  readonly spentCalls: SpendScope[][] = [];
  /** Tenants whose next inserts throw (as many times as listed). */
  readonly failures: string[] = [];
  /** Tenants whose next insert is refused for good, as PostgreSQL refuses a NUL in text (SQLSTATE 22021). */
  readonly refusals: string[] = [];
  /** When set, inserts wait for it. */
  gate: Promise<void> | undefined;

  async insert(tenantId: string, records: readonly UsageRecord[]): Promise<void> {
    this.attempts.push(tenantId);
    if (this.gate !== undefined) await this.gate;
    const refused = this.refusals.indexOf(tenantId);
    if (refused !== -1) {
      this.refusals.splice(refused, 1);
      throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
    }
    const failing = this.failures.indexOf(tenantId);
    if (failing !== -1) {
      this.failures.splice(failing, 1);
      throw new Error(`insert for ${tenantId} refused`);
    }
    this.inserted.push({ tenantId, records: [...records] });
  }

  spent(scopes: readonly SpendScope[]): Promise<number[]> {
    this.spentCalls.push([...scopes]);
    const all = this.inserted.flatMap((batch) => batch.records);
    return Promise.resolve(
      scopes.map((scope) =>
        all
          .filter(
            (record) =>
              record.tenantId === scope.tenantId &&
              (scope.userId === '' || record.userId === scope.userId) &&
              record.at.getTime() >= scope.since.getTime(),
          )
          .reduce((sum, record) => sum + (record.costUsd ?? 0), 0),
      ),
    );
  }
}

interface LoggedError {
  readonly fields: unknown;
  readonly message: unknown;
}

function setup(options: { maxQueued?: number } = {}): {
  meter: UsageMeter;
  repository: FakeUsageRepository;
  errors: LoggedError[];
} {
  const repository = new FakeUsageRepository();
  const errors: LoggedError[] = [];
  const logger = {
    error(fields: unknown, message: unknown) {
      errors.push({ fields, message });
    },
    warn() {},
    info() {},
  } as unknown as Logger;
  const meter = new UsageMeter(
    repository as unknown as UsageRepository,
    { flushMs: FLUSH_MS, maxQueued: options.maxQueued ?? 1_000 },
    logger,
  );
  return { meter, repository, errors };
}

let counter = 0;

function usage(tenantId: string, userId: string, costUsd: number | null, at: Date = NOW): UsageRecord {
  counter += 1;
  return {
    at,
    tenantId,
    userId,
    turnId: `turn-${counter}`,
    role: 'default',
    provider: 'openai',
    model: 'openai/gpt-4o',
    endpoint: 'chat.completions',
    stream: false,
    outcome: 'ok',
    promptTokens: 10,
    completionTokens: 5,
    cachedTokens: 0,
    costUsd,
    latencyMs: 100,
    ttftMs: null,
    attempts: 1,
  };
}

function budget(
  tenantId: string,
  userId: string,
  limitUsd: number,
  spentUsd = 0,
  period: 'day' | 'month' = 'day',
): BudgetState {
  return { tenantId, userId, period, limitUsd, periodStart: periodStart(period, NOW), spentUsd };
}

function snapshot(budgets: readonly BudgetState[], spendSeq = 0): RoutingSnapshot {
  return {
    builtAt: NOW,
    providers: new Map(),
    roles: new Map(),
    prices: new Map(),
    budgets: new Map(budgets.map((entry) => [budgetKey(entry.tenantId, entry.userId), entry])),
    spendSeq,
  };
}

/** Lets pending promise callbacks run (the fake repository answers without timers). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
}

beforeEach(() => {
  vi.useFakeTimers({ now: NOW });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('costOf', () => {
  const price: Price = { inputPerMtok: 2, cachedInputPerMtok: 0.5, outputPerMtok: 8 };

  it('prices uncached prompt, cached prompt and completion tokens apart', () => {
    // (600 × 2 + 400 × 0.5 + 500 × 8) / 1e6
    expect(costOf(price, { promptTokens: 1_000, cachedTokens: 400, completionTokens: 500 })).toBeCloseTo(
      0.0054,
      15,
    );
  });

  it('is the per-million price for a million tokens', () => {
    expect(costOf(price, { promptTokens: 1_000_000, cachedTokens: 0, completionTokens: 0 })).toBe(2);
    expect(costOf(price, { promptTokens: 1_000_000, cachedTokens: 1_000_000, completionTokens: 0 })).toBe(
      0.5,
    );
    expect(costOf(price, { promptTokens: 0, cachedTokens: 0, completionTokens: 1_000_000 })).toBe(8);
    expect(costOf(price, { promptTokens: 0, cachedTokens: 0, completionTokens: 0 })).toBe(0);
  });

  it('never counts more cached tokens than prompt tokens', () => {
    // 100 cached at 0.5, not 250 cached and -150 uncached.
    expect(costOf(price, { promptTokens: 100, cachedTokens: 250, completionTokens: 0 })).toBeCloseTo(
      0.00005,
      15,
    );
  });
});

describe('UsageMeter.exhaustedBudget', () => {
  it('is undefined below the limit', async () => {
    const { meter } = setup();
    const snap = snapshot([budget('t1', '', 10, 9.99), budget('t1', 'u1', 5, 4.99)]);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', NOW)).toBeUndefined();
    await meter.close();
  });

  it('reports the tenant budget at its limit', async () => {
    const { meter } = setup();
    const snap = snapshot([budget('t1', '', 10, 10, 'month')]);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', NOW)).toEqual({
      scope: 'tenant',
      limitUsd: 10,
      spentUsd: 10,
      period: 'month',
    });
    await meter.close();
  });

  it('reports the user budget when only it is spent', async () => {
    const { meter } = setup();
    const snap = snapshot([budget('t1', '', 10, 3), budget('t1', 'u1', 2, 2.5)]);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', NOW)).toEqual({
      scope: 'user',
      limitUsd: 2,
      spentUsd: 2.5,
      period: 'day',
    });
    expect(meter.exhaustedBudget(snap, 't1', 'u2', NOW)).toBeUndefined();
    await meter.close();
  });

  it('reports the tenant before the user when both are spent', async () => {
    const { meter } = setup();
    const snap = snapshot([budget('t1', 'u1', 1, 7), budget('t1', '', 5, 7)]);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', NOW)).toEqual({
      scope: 'tenant',
      limitUsd: 5,
      spentUsd: 7,
      period: 'day',
    });
    await meter.close();
  });

  it('refuses everything under a budget of 0', async () => {
    const { meter } = setup();
    const snap = snapshot([budget('t1', '', 0)]);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', NOW)).toEqual({
      scope: 'tenant',
      limitUsd: 0,
      spentUsd: 0,
      period: 'day',
    });
    await meter.close();
  });

  it('is undefined for a tenant without budgets', async () => {
    const { meter } = setup();
    const snap = snapshot([budget('t1', '', 0)]);
    expect(meter.exhaustedBudget(snap, 't2', 'u1', NOW)).toBeUndefined();
    expect(meter.exhaustedBudget(snapshot([]), 't1', 'u1', NOW)).toBeUndefined();
    await meter.close();
  });

  it('ignores the snapshot spend once the period turned', async () => {
    const { meter } = setup();
    const snap = snapshot([budget('t1', '', 10, 10)]);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', new Date('2025-03-15T23:59:59.999Z'))?.spentUsd).toBe(10);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', new Date('2025-03-16T00:00:00.000Z'))).toBeUndefined();
    const monthly = snapshot([budget('t1', '', 10, 10, 'month')]);
    expect(meter.exhaustedBudget(monthly, 't1', 'u1', new Date('2025-03-31T23:00:00Z'))?.spentUsd).toBe(10);
    expect(meter.exhaustedBudget(monthly, 't1', 'u1', new Date('2025-04-01T00:00:00Z'))).toBeUndefined();
    await meter.close();
  });

  it('still counts local spend recorded in the new period', async () => {
    const { meter } = setup();
    const snap = snapshot([budget('t1', '', 2, 10)]);
    meter.record(usage('t1', 'u1', 2, new Date('2025-03-16T00:00:00.500Z')), snap);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', new Date('2025-03-16T00:00:01Z'))).toEqual({
      scope: 'tenant',
      limitUsd: 2,
      spentUsd: 2,
      period: 'day',
    });
    await meter.close();
  });
});

describe('UsageMeter local spend', () => {
  it('adds recorded costs to the snapshot spend at once', async () => {
    const { meter } = setup();
    const snap = snapshot([budget('t1', '', 10, 6), budget('t1', 'u1', 100, 0)]);
    meter.record(usage('t1', 'u1', 1.5), snap);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', NOW)).toBeUndefined();
    meter.record(usage('t1', 'u2', 2.5), snap);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', NOW)).toEqual({
      scope: 'tenant',
      limitUsd: 10,
      spentUsd: 10,
      period: 'day',
    });
    await meter.close();
  });

  it('counts a user record toward the user budget, another user not', async () => {
    const { meter } = setup();
    const snap = snapshot([budget('t1', 'u1', 4), budget('t1', 'u2', 4)]);
    meter.record(usage('t1', 'u1', 3), snap);
    meter.record(usage('t1', 'u2', 1), snap);
    meter.record(usage('t1', 'u1', 1), snap);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', NOW)).toEqual({
      scope: 'user',
      limitUsd: 4,
      spentUsd: 4,
      period: 'day',
    });
    expect(meter.exhaustedBudget(snap, 't1', 'u2', NOW)).toBeUndefined();
    await meter.close();
  });

  it('does not count records without a cost', async () => {
    const { meter } = setup();
    const snap = snapshot([budget('t1', '', 1, 0.5)]);
    meter.record(usage('t1', 'u1', null), snap);
    meter.record(usage('t1', 'u1', 0), snap);
    expect(meter.exhaustedBudget(snap, 't1', 'u1', NOW)).toBeUndefined();
    await meter.close();
  });

  it('counts a record only toward budgets present in the snapshot it was recorded with', async () => {
    const { meter } = setup();
    const without = snapshot([budget('t1', '', 100)]);
    meter.record(usage('t1', 'u1', 5), without);
    // The user's budget appeared later, with the store's spend at seq 0: the record is not counted locally.
    const later = snapshot([budget('t1', '', 100), budget('t1', 'u1', 5)]);
    expect(meter.exhaustedBudget(later, 't1', 'u1', NOW)).toBeUndefined();
    // The tenant's budget was present: the same record counts there.
    const tight = snapshot([budget('t1', '', 5)]);
    expect(meter.exhaustedBudget(tight, 't1', 'u1', NOW)?.spentUsd).toBe(5);
    await meter.close();
  });

  it('does not count twice what a snapshot built after a read already includes', async () => {
    const { meter, repository } = setup();
    const row: BudgetRow = { tenantId: 't1', userId: '', period: 'day', limitUsd: 10 };
    const userRow: BudgetRow = { tenantId: 't1', userId: 'u1', period: 'day', limitUsd: 10 };
    const first = snapshot([budget('t1', '', 10), budget('t1', 'u1', 10)]);
    meter.record(usage('t1', 'u1', 3), first);
    meter.record(usage('t1', 'u1', 4), first);
    expect(meter.exhaustedBudget(first, 't1', 'u1', NOW)).toBeUndefined();

    const read = await meter.read([row, userRow]);
    expect(read.seq).toBe(2);
    expect([...read.spent]).toEqual([
      [budgetKey('t1'), 7],
      [budgetKey('t1', 'u1'), 7],
    ]);
    expect(repository.inserted.map((batch) => batch.records.map((record) => record.costUsd))).toEqual([
      [3, 4],
    ]);

    const second = snapshot(
      [budget('t1', '', 10, read.spent.get(budgetKey('t1'))), budget('t1', 'u1', 7.5, 7)],
      read.seq,
    );
    // 7, not 14: the two local records are in the store's sum.
    expect(meter.exhaustedBudget(second, 't1', 'u1', NOW)).toBeUndefined();
    meter.record(usage('t1', 'u1', 0.5), second);
    expect(meter.exhaustedBudget(second, 't1', 'u1', NOW)).toEqual({
      scope: 'user',
      limitUsd: 7.5,
      spentUsd: 7.5,
      period: 'day',
    });
    meter.record(usage('t1', 'u1', 2.5), second);
    expect(meter.exhaustedBudget(second, 't1', 'u1', NOW)).toEqual({
      scope: 'tenant',
      limitUsd: 10,
      spentUsd: 10,
      period: 'day',
    });
    await meter.close();
  });

  it('sums each budget since the start of its current period', async () => {
    const { meter, repository } = setup();
    const rows: BudgetRow[] = [
      { tenantId: 't1', userId: '', period: 'month', limitUsd: 10 },
      { tenantId: 't1', userId: 'u1', period: 'day', limitUsd: 1 },
    ];
    const snap = snapshot([]);
    meter.record(usage('t1', 'u1', 1, new Date('2025-03-14T10:00:00Z')), snap);
    meter.record(usage('t1', 'u1', 2, new Date('2025-03-15T10:00:00Z')), snap);
    meter.record(usage('t1', 'u2', 4, new Date('2025-03-15T11:00:00Z')), snap);
    const read = await meter.read(rows);
    expect(repository.spentCalls).toEqual([
      [
        { tenantId: 't1', userId: '', since: new Date('2025-03-01T00:00:00Z') },
        { tenantId: 't1', userId: 'u1', since: new Date('2025-03-15T00:00:00Z') },
      ],
    ]);
    expect(read).toEqual({
      seq: 3,
      spent: new Map([
        [budgetKey('t1'), 7],
        [budgetKey('t1', 'u1'), 2],
      ]),
    });
    await meter.close();
  });

  // A record that arrives while `read()` is writing the queue is simply not in the store yet: its sequence
  // number is above the `seq` read returns, so the meter keeps counting it locally. Nothing failed.
  it('reads the spend when a record arrives while the queue is being written', async () => {
    const { meter, repository } = setup();
    const snap = snapshot([budget('t1', '', 100)]);
    meter.record(usage('t1', 'u1', 3), snap);
    let open = (): void => undefined;
    repository.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const reading = meter.read([{ tenantId: 't1', userId: '', period: 'day', limitUsd: 100 }]);
    await settle();
    expect(repository.attempts).toEqual(['t1']);
    meter.record(usage('t1', 'u1', 4), snap); // a request finished during the write
    repository.gate = undefined;
    open();
    await expect(reading).resolves.toEqual({ seq: 1, spent: new Map([[budgetKey('t1'), 3]]) });
    await meter.close();
    expect(repository.inserted.map((batch) => batch.records.map((record) => record.costUsd))).toEqual([
      [3],
      [4],
    ]);
  });
});

describe('UsageMeter.flush', () => {
  it('writes the queue grouped per tenant, in order', async () => {
    const { meter, repository } = setup();
    const snap = snapshot([]);
    const a1 = usage('t1', 'u1', 1);
    const b1 = usage('t2', 'u9', null);
    const a2 = usage('t1', 'u2', 2);
    meter.record(a1, snap);
    meter.record(b1, snap);
    meter.record(a2, snap);
    await meter.flush();
    expect(repository.inserted).toEqual([
      { tenantId: 't1', records: [a1, a2] },
      { tenantId: 't2', records: [b1] },
    ]);
    expect(repository.inserted[0]?.records[0]).toBe(a1);
    await meter.flush();
    expect(repository.attempts).toEqual(['t1', 't2']);
    await meter.close();
  });

  it('re-queues a tenant whose insert failed, and writes no other tenant twice', async () => {
    const { meter, repository, errors } = setup();
    const snap = snapshot([]);
    const a1 = usage('t1', 'u1', 1);
    const b1 = usage('t2', 'u9', 1);
    const b2 = usage('t2', 'u9', 2);
    repository.failures.push('t2');
    meter.record(a1, snap);
    meter.record(b1, snap);
    meter.record(b2, snap);
    await meter.flush();
    expect(repository.inserted).toEqual([{ tenantId: 't1', records: [a1] }]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.fields).toMatchObject({ records: 2 });

    const b3 = usage('t2', 'u9', 3);
    const a3 = usage('t1', 'u1', 3);
    meter.record(b3, snap);
    meter.record(a3, snap);
    await meter.flush();
    expect(repository.attempts).toEqual(['t1', 't2', 't2', 't1']);
    expect(repository.inserted).toEqual([
      { tenantId: 't1', records: [a1] },
      { tenantId: 't2', records: [b1, b2, b3] },
      { tenantId: 't1', records: [a3] },
    ]);
    await meter.close();
  });

  it('drops records the store refuses for good, so they never hold the tenant back', async () => {
    const { meter, repository, errors } = setup();
    const snap = snapshot([]);
    repository.refusals.push('t1');
    meter.record(usage('t1', 'u1', 1), snap);
    await meter.flush();
    expect(repository.inserted).toEqual([]);
    expect(errors[0]?.message).toBe('usage records refused by the store; dropped');
    const next = usage('t1', 'u1', 2);
    meter.record(next, snap);
    await expect(meter.read([])).resolves.toMatchObject({ seq: 2 });
    expect(repository.inserted).toEqual([{ tenantId: 't1', records: [next] }]);
    await meter.close();
  });

  it('flushes on its interval', async () => {
    const { meter, repository } = setup();
    const record = usage('t1', 'u1', 1);
    meter.record(record, snapshot([]));
    await vi.advanceTimersByTimeAsync(FLUSH_MS - 1);
    expect(repository.attempts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await settle();
    expect(repository.inserted).toEqual([{ tenantId: 't1', records: [record] }]);
    await meter.close();
  });
});

describe('UsageMeter.read', () => {
  it('rejects, without summing, when records could not be written', async () => {
    const { meter, repository } = setup();
    const row: BudgetRow = { tenantId: 't1', userId: '', period: 'day', limitUsd: 10 };
    repository.failures.push('t1');
    meter.record(usage('t1', 'u1', 1), snapshot([]));
    await expect(meter.read([row])).rejects.toThrow('usage records could not be written; spend is unknown');
    expect(repository.spentCalls).toEqual([]);
    // The lock is not poisoned: the next read writes the record and sums it.
    await expect(meter.read([row])).resolves.toEqual({ seq: 1, spent: new Map([[budgetKey('t1'), 1]]) });
    await meter.close();
  });

  it('reads seq 0 and zero spend from an empty store', async () => {
    const { meter, repository } = setup();
    const result = await meter.read([{ tenantId: 't1', userId: 'u1', period: 'day', limitUsd: 1 }]);
    expect(result).toEqual({ seq: 0, spent: new Map([[budgetKey('t1', 'u1'), 0]]) });
    expect(repository.attempts).toEqual([]);
    await meter.close();
  });
});

describe('UsageMeter queue bound and close', () => {
  it('drops the oldest records beyond maxQueued, and logs it', async () => {
    const { meter, repository, errors } = setup({ maxQueued: 2 });
    const snap = snapshot([]);
    const r1 = usage('t1', 'u1', 1);
    const r2 = usage('t1', 'u1', 2);
    const r3 = usage('t1', 'u1', 3);
    const r4 = usage('t1', 'u1', 4);
    meter.record(r1, snap);
    meter.record(r2, snap);
    expect(errors).toEqual([]);
    meter.record(r3, snap);
    meter.record(r4, snap);
    expect(errors.map((entry) => entry.fields)).toEqual([
      { dropped: 1, dropped_total: 1 },
      { dropped: 1, dropped_total: 2 },
    ]);
    await meter.flush();
    expect(repository.inserted).toEqual([{ tenantId: 't1', records: [r3, r4] }]);
    await meter.close();
  });

  it('flushes on close and stops its timer', async () => {
    const { meter, repository, errors } = setup();
    const record = usage('t1', 'u1', 1);
    meter.record(record, snapshot([]));
    expect(vi.getTimerCount()).toBe(1);
    await meter.close();
    expect(repository.inserted).toEqual([{ tenantId: 't1', records: [record] }]);
    expect(vi.getTimerCount()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('logs what close could not write', async () => {
    const { meter, repository, errors } = setup();
    repository.failures.push('t1');
    meter.record(usage('t1', 'u1', 1), snapshot([]));
    meter.record(usage('t1', 'u1', 1), snapshot([]));
    await meter.close();
    expect(errors.map((entry) => entry.fields)).toEqual([
      expect.objectContaining({ records: 2 }),
      { lost: 2 },
    ]);
  });
});
