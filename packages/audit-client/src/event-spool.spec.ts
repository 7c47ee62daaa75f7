import { appendFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { TurnEvent } from '@aibox/contracts';

import { EventSpool } from './event-spool.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aibox-spool-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function event(n: number, extra: Partial<TurnEvent> = {}): TurnEvent {
  return {
    eventId: `0190c3c4-0000-7000-8000-${String(n).padStart(12, '0')}`,
    turnId: 'turn-1',
    tenantId: 'acme',
    userId: 'u-1',
    service: 'gateway',
    type: 'tool_called',
    occurredAt: new Date('2026-03-04T05:06:07.089Z'),
    attributes: { tool: 'search', args: { q: 'x\ny' }, n },
    artifacts: [{ kind: 'stdout', sha256: 'ef'.repeat(32), size: 12, contentType: 'text/plain' }],
    ...extra,
  };
}

describe('EventSpool', () => {
  it('reads back exactly what was appended, oldest first', async () => {
    const spool = new EventSpool(join(dir, 'nested', 'spool'), 1_000_000, 1_000_000);
    const events = [event(1), event(2), event(3)];

    expect((await spool.append(events)).stored).toEqual([true, true, true]);
    const segment = await spool.takeOldest();

    expect(segment?.events).toEqual(events);
    expect(segment?.corruptLines).toBe(0);
    await spool.close();
  });

  it('appendIfNotEmpty leaves an empty spool alone and queues behind existing events', async () => {
    const spool = new EventSpool(dir, 1_000_000, 1_000_000);

    expect(await spool.appendIfNotEmpty([event(1)])).toBeUndefined();
    await spool.append([event(2)]);
    expect((await spool.appendIfNotEmpty([event(3)]))?.stored).toEqual([true]);

    expect((await spool.takeOldest())?.events.map((e) => e.eventId)).toEqual([
      event(2).eventId,
      event(3).eventId,
    ]);
    await spool.close();
  });

  it('never grows past its bound: what does not fit is reported unstored', async () => {
    const spool = new EventSpool(dir, 2000, 100_000);
    const events = Array.from({ length: 20 }, (_, i) => event(i));

    const { stored } = await spool.append(events);
    const kept = stored.filter(Boolean).length;

    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(20);
    expect(spool.bytes).toBeLessThanOrEqual(2000);
    expect((await spool.takeOldest())?.events).toHaveLength(kept);
    await spool.close();
  });

  it('rolls segments and hands them out oldest first; removing one frees its bytes', async () => {
    const spool = new EventSpool(dir, 1_000_000, 600);
    for (let i = 0; i < 6; i += 1) {
      await spool.append([event(i)]);
    }
    const files = (await readdir(dir)).sort();
    expect(files.length).toBeGreaterThan(1);

    const before = spool.bytes;
    const first = await spool.takeOldest();
    expect(first?.name).toBe(files[0]);
    expect(first?.events[0]?.eventId).toBe(event(0).eventId);
    await spool.remove(first?.name ?? '');

    expect(spool.bytes).toBeLessThan(before);
    expect(await readdir(dir)).not.toContain(files[0]);
    await spool.close();
  });

  it('finds the segments of an earlier process and continues after them', async () => {
    const first = new EventSpool(dir, 1_000_000, 1_000_000);
    await first.append([event(1)]);
    await first.close();

    const second = new EventSpool(dir, 1_000_000, 300);
    await second.open();
    expect(second.bytes).toBeGreaterThan(0);
    await second.append([event(2)]);

    const seen: string[] = [];
    for (let segment = await second.takeOldest(); segment; segment = await second.takeOldest()) {
      seen.push(...segment.events.map((e) => e.eventId));
      await second.remove(segment.name);
    }
    expect(seen).toEqual([event(1).eventId, event(2).eventId]);
    expect(await readdir(dir)).toEqual([]);
    await second.close();
  });

  it('counts a torn last line and garbage lines as corrupt, keeping the good ones', async () => {
    const spool = new EventSpool(dir, 1_000_000, 1_000_000);
    await spool.append([event(1)]);
    await spool.close();
    const [name] = await readdir(dir);
    await appendFile(join(dir, name ?? ''), 'not json\n{"eventId":""}\n[1]\n{"eventId":"0190c3c4-0000-7');

    const reopened = new EventSpool(dir, 1_000_000, 1_000_000);
    const segment = await reopened.takeOldest();

    expect(segment?.events.map((e) => e.eventId)).toEqual([event(1).eventId]);
    expect(segment?.corruptLines).toBe(4);
    await reopened.close();
  });

  it('ignores files that are not segments', async () => {
    await writeFile(join(dir, 'README'), 'hello');
    const spool = new EventSpool(dir, 1_000_000, 1_000_000);

    expect(await spool.isEmpty()).toBe(true);
    expect(await spool.takeOldest()).toBeUndefined();
    await spool.close();
  });

  it('reports every event unstored when the directory cannot be created', async () => {
    const blocker = join(dir, 'file');
    await writeFile(blocker, 'x');
    const spool = new EventSpool(join(blocker, 'spool'), 1_000_000, 1_000_000);

    const result = await spool.append([event(1), event(2)]);

    expect(result.stored).toEqual([false, false]);
    expect(result.error).toBeDefined();
  });
});
