import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi, type Mock } from 'vitest';

import { PublishStatus } from '@aibox/contracts';
import { generateKeySetValue, isUuid, newTurnId, parseKeySet } from '@aibox/identity';

import {
  AuditClient,
  AuditClientError,
  type AuditClientLogger,
  type AuditClientOptions,
  type TurnEventInput,
} from '@aibox/audit-client';

import { RecordingAuditServer } from './recording-audit.server.js';

const keys = parseKeySet(generateKeySetValue(['k1']));
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function startServer(port = 0): Promise<{ server: RecordingAuditServer; port: number }> {
  const server = new RecordingAuditServer(keys);
  const bound = await server.start(port);
  cleanups.push(() => {
    server.stop();
  });
  return { server, port: bound };
}

/** A loopback port nothing listens on (a server bound it, then let it go). */
async function freePort(): Promise<number> {
  const server = new RecordingAuditServer(keys);
  const port = await server.start();
  server.stop();
  return port;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aibox-audit-client-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function recordingLogger(): {
  warn: Mock<AuditClientLogger['warn']>;
  error: Mock<AuditClientLogger['error']>;
} {
  return { warn: vi.fn<AuditClientLogger['warn']>(), error: vi.fn<AuditClientLogger['error']>() };
}

function client(port: number, spoolDir: string, extra: Partial<AuditClientOptions> = {}): AuditClient {
  const c = new AuditClient({
    target: `127.0.0.1:${port}`,
    service: 'gateway',
    principalKeys: keys,
    spoolDir,
    maxRetries: 2,
    backoff: { baseMs: 10, maxMs: 100 },
    callTimeoutMs: 5000,
    logger: recordingLogger(),
    ...extra,
  });
  cleanups.push(() => c.close());
  return c;
}

function turnEvent(tenantId = 'acme', userId = 'u-1', extra: Partial<TurnEventInput> = {}): TurnEventInput {
  return {
    eventId: newTurnId(),
    turnId: 'turn-1',
    tenantId,
    userId,
    type: 'model_invoked',
    attributes: { model: 'default', tokens: 12 },
    ...extra,
  };
}

const waitLong = { timeout: 15_000, interval: 20 };

describe('AuditClient against a real TurnEventService', () => {
  it('batches queued events per (tenant, user), each call carrying a principal audit accepts for it', async () => {
    const { server, port } = await startServer();
    const c = client(port, await tempDir());

    const sent = [
      turnEvent('acme', 'u-1'),
      turnEvent('beta', 'u-9'),
      turnEvent('acme', 'u-1'),
      turnEvent('acme', 'u-2'),
      turnEvent('beta', 'u-9'),
    ];
    for (const e of sent) {
      c.enqueue(e);
    }
    await c.flush();

    expect(server.calls).toHaveLength(3);
    for (const call of server.calls) {
      expect(call.principal).toMatchObject({ iss: 'aibox-internal', sub: 'gateway', roles: ['service'] });
      for (const e of call.events) {
        expect([e.tenantId, e.userId]).toEqual([call.principal.tid, call.principal.uid]);
      }
    }
    expect(server.accepted.sort()).toEqual(sent.map((e) => e.eventId).sort());
    expect(c.stats()).toMatchObject({ queued: 0, delivered: 5, spooled: 0, rejected: 0, dropped: 0 });
  });

  it('never puts more than maxBatch events in one call', async () => {
    const { server, port } = await startServer();
    const c = client(port, await tempDir(), { maxBatch: 4 });

    for (let i = 0; i < 10; i += 1) {
      c.enqueue(turnEvent());
    }
    await c.flush();

    expect(server.calls.map((call) => call.events.length)).toEqual([4, 4, 2]);
    expect(server.accepted).toHaveLength(10);
  });

  it('fills in a UUIDv7 event id, its service and the time when the caller leaves them out', async () => {
    const { server, port } = await startServer();
    const c = client(port, await tempDir());

    const id = c.enqueue({ turnId: 't', tenantId: 'acme', userId: 'u-1', type: 'turn_started' });
    await c.flush();

    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect(server.events.get(id)).toMatchObject({ service: 'gateway', type: 'turn_started' });
    expect(server.events.get(id)?.occurredAt).toBeInstanceOf(Date);
  });

  it('publish() resolves with audit’s per-event results in input order', async () => {
    const { port } = await startServer();
    const c = client(port, await tempDir());
    const a = turnEvent('acme');
    const b = turnEvent('beta');

    const results = await c.publish([a, b, a]);

    expect(results).toEqual([
      { eventId: a.eventId, status: PublishStatus.ACCEPTED, code: '' },
      { eventId: b.eventId, status: PublishStatus.ACCEPTED, code: '' },
      { eventId: a.eventId, status: PublishStatus.DUPLICATE, code: '' },
    ]);
  });

  it('retries UNAVAILABLE and delivers without spooling', async () => {
    const { server, port } = await startServer();
    const c = client(port, await tempDir());
    server.failNext = [status.UNAVAILABLE, status.RESOURCE_EXHAUSTED];
    const e = turnEvent();

    const [result] = await c.publish([e]);

    expect(result?.status).toBe(PublishStatus.ACCEPTED);
    expect(server.attempts.get(e.eventId ?? '')).toBe(3);
    expect(c.stats()).toMatchObject({ delivered: 1, spooled: 0 });
  });

  it('does not retry REJECTED results: logged with their code, counted, sent once', async () => {
    const { server, port } = await startServer();
    const logger = recordingLogger();
    const c = client(port, await tempDir(), { logger });
    server.rejectCode = (event) => (event.attributes?.['poison'] === true ? 'attributes_invalid' : undefined);
    const good = turnEvent();
    const bad = turnEvent('acme', 'u-1', { attributes: { poison: true } });

    const results = await c.publish([good, bad]);
    c.enqueue(turnEvent());
    await c.flush();

    expect(results.map((r) => [r.status, r.code])).toEqual([
      [PublishStatus.ACCEPTED, ''],
      [PublishStatus.REJECTED, 'attributes_invalid'],
    ]);
    expect(server.attempts.get(bad.eventId ?? '')).toBe(1);
    expect(c.stats()).toMatchObject({ delivered: 2, rejected: 1, spooled: 0, dropped: 0 });
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({ event_id: bad.eventId, code: 'attributes_invalid' }),
      expect.any(String),
    );
  });

  it('spools at once on a non-retryable failure, then replays it', async () => {
    const { server, port } = await startServer();
    const c = client(port, await tempDir());
    server.failNext = [status.PERMISSION_DENIED];
    const e = turnEvent();

    c.enqueue(e);
    await c.flush();

    // A retry would have succeeded at once; a spooled event means there was none.
    expect(c.stats()).toMatchObject({ spooled: 1, delivered: 0 });
    await vi.waitFor(() => {
      expect(c.stats().delivered).toBe(1);
    }, waitLong);
    expect(server.accepted).toEqual([e.eventId]);
  });

  it('flush() resolves only once queued events are delivered', async () => {
    const { server, port } = await startServer();
    const c = client(port, await tempDir());
    server.hold = true;
    for (let i = 0; i < 3; i += 1) {
      c.enqueue(turnEvent());
    }

    let flushed = false;
    const flushing = c.flush().then(() => {
      flushed = true;
    });
    await vi.waitFor(() => {
      expect(server.heldCalls).toBe(1);
    }, waitLong);
    for (let i = 0; i < 5; i += 1) {
      await nextTurn();
    }
    expect(flushed).toBe(false);
    expect(c.stats().queued).toBe(3);

    server.release();
    await flushing;
    expect(c.stats()).toMatchObject({ queued: 0, delivered: 3 });
  });

  it('flush() resolves once events are safely spooled when audit is down', async () => {
    const c = client(await freePort(), await tempDir());

    for (let i = 0; i < 4; i += 1) {
      c.enqueue(turnEvent());
    }
    await c.flush();

    expect(c.stats()).toMatchObject({ queued: 0, spooled: 4, delivered: 0, dropped: 0 });
    expect(c.stats().spoolBytes).toBeGreaterThan(0);
  });

  it('survives an outage: spools, loses nothing, and delivers every event exactly once, in order', async () => {
    const first = await startServer();
    const spoolDir = await tempDir();
    const c = client(first.port, spoolDir);

    const before = Array.from({ length: 5 }, () => turnEvent());
    before.forEach((e) => c.enqueue(e));
    await c.flush();
    expect(first.server.accepted).toHaveLength(5);

    first.server.stop();
    const during = Array.from({ length: 30 }, (_, i) => turnEvent('acme', 'u-1', { attributes: { i } }));
    during.slice(0, 20).forEach((e) => c.enqueue(e));
    await c.flush();
    during.slice(20).forEach((e) => c.enqueue(e));
    await c.flush();

    expect(c.stats()).toMatchObject({ delivered: 5, spooled: 30, dropped: 0 });
    expect((await readdir(spoolDir)).length).toBeGreaterThan(0);
    const acked = turnEvent();
    await expect(c.publish([acked])).rejects.toMatchObject({ code: 'audit_unavailable' });

    const second = await startServer(first.port);
    // Audit is back, but older events still wait in the spool: a new one must not overtake them.
    const late = turnEvent();
    c.enqueue(late);
    await c.flush();
    await vi.waitFor(async () => {
      expect(await readdir(spoolDir)).toEqual([]);
      // The spool unlinks a segment before it subtracts its bytes: wait for both.
      expect(c.stats().spoolBytes).toBe(0);
    }, waitLong);

    expect(second.server.accepted).toEqual([...during.map((e) => e.eventId), acked.eventId, late.eventId]);
    expect(c.stats()).toMatchObject({ delivered: 37, spooled: 32, dropped: 0, spoolBytes: 0 });

    // Live again: new events go straight to audit.
    const after = turnEvent();
    await c.publish([after]);
    expect(second.server.accepted.at(-1)).toBe(after.eventId);
  });

  it('delivers events spooled by an earlier process when a new client starts on the same spool', async () => {
    const port = await freePort();
    const spoolDir = await tempDir();
    const earlier = client(port, spoolDir);
    const events = Array.from({ length: 10 }, (_, i) => turnEvent(i % 2 === 0 ? 'acme' : 'beta'));
    events.forEach((e) => earlier.enqueue(e));
    await earlier.close();
    expect(earlier.stats().spooled).toBe(10);
    expect((await readdir(spoolDir)).length).toBeGreaterThan(0);

    const { server } = await startServer(port);
    const later = client(port, spoolDir);

    await vi.waitFor(() => {
      expect(server.accepted).toHaveLength(10);
    }, waitLong);
    expect(server.accepted.sort()).toEqual(events.map((e) => e.eventId).sort());
    await vi.waitFor(async () => {
      expect(await readdir(spoolDir)).toEqual([]);
    }, waitLong);
    expect(later.stats().delivered).toBe(10);
  });

  it('drops, counts and logs events beyond the spool bound, and delivers the rest later', async () => {
    const port = await freePort();
    const logger = recordingLogger();
    const c = client(port, await tempDir(), { spoolMaxBytes: 4096, logger });
    const events = Array.from({ length: 40 }, () => turnEvent());

    events.forEach((e) => c.enqueue(e));
    await c.flush();

    const { spooled, dropped, spoolBytes } = c.stats();
    expect(dropped).toBeGreaterThan(0);
    expect(spooled).toBeGreaterThan(0);
    expect(spooled + dropped).toBe(40);
    expect(spoolBytes).toBeLessThanOrEqual(4096);
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ dropped, reason: 'spool_full' }),
      expect.stringContaining('lost'),
    );

    const { server } = await startServer(port);
    await vi.waitFor(() => {
      expect(c.stats().delivered).toBe(spooled);
    }, waitLong);
    expect(server.accepted).toEqual(events.slice(0, spooled).map((e) => e.eventId));
  });

  it('refuses malformed events before sending, with a code, and never throws from enqueue', async () => {
    const { server, port } = await startServer();
    const logger = recordingLogger();
    const c = client(port, await tempDir(), { logger });

    expect(() => c.enqueue(turnEvent('', 'u-1'))).not.toThrow();
    expect(() => c.enqueue(null as unknown as TurnEventInput)).not.toThrow();
    const results = await c.publish([
      turnEvent('acme', ''),
      { ...turnEvent(), type: 'turn_exploded' as unknown as 'turn_started' },
      turnEvent('acme', 'u-1', { attributes: { blob: 'x'.repeat(2 * 1024 * 1024) } }),
    ]);
    await c.flush();

    expect(results.map((r) => r.code)).toEqual(['event_invalid', 'event_type_unknown', 'event_too_large']);
    expect(results.every((r) => r.status === PublishStatus.REJECTED)).toBe(true);
    expect(server.calls).toHaveLength(0);
    expect(c.stats()).toMatchObject({ rejected: 5, delivered: 0 });
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({ code: 'event_invalid' }),
      expect.any(String),
    );
  });

  it('after close(), publish rejects with client_closed and enqueue drops with an error log', async () => {
    const { port } = await startServer();
    const logger = recordingLogger();
    const c = client(port, await tempDir(), { logger });
    await c.close();

    await expect(c.publish([turnEvent()])).rejects.toBeInstanceOf(AuditClientError);
    await expect(c.publish([turnEvent()])).rejects.toMatchObject({ code: 'client_closed' });
    c.enqueue(turnEvent());

    expect(c.stats().dropped).toBe(1);
    expect(logger.error).toHaveBeenCalled();
  });

  it('refuses invalid options with options_invalid', () => {
    expect(
      () => new AuditClient({ target: '', service: 'gateway', principalKeys: keys, spoolDir: '/tmp/x' }),
    ).toThrow(expect.objectContaining({ code: 'options_invalid' }));
    expect(
      () =>
        new AuditClient({
          target: '127.0.0.1:1',
          service: 'gateway',
          principalKeys: keys,
          spoolDir: '/tmp/x',
          maxBatch: 0,
        }),
    ).toThrow(/maxBatch/);
  });
});
