import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi, type Mock } from 'vitest';

import { generateKeySetValue, newTurnId, parseKeySet } from '@aibox/identity';

import {
  ARTIFACT_CHUNK_BYTES,
  AuditClient,
  AuditClientError,
  artifactRef,
  type ArtifactUpload,
  type AuditClientLogger,
  type AuditClientOptions,
} from '@aibox/audit-client';

import { RecordingAuditServer } from './recording-audit.server.js';

const keys = parseKeySet(generateKeySetValue(['k1']));
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
});

async function startServer(): Promise<{ server: RecordingAuditServer; port: number }> {
  const server = new RecordingAuditServer(keys);
  const port = await server.start();
  cleanups.push(() => {
    server.stop();
  });
  return { server, port };
}

function recordingLogger(): {
  warn: Mock<AuditClientLogger['warn']>;
  error: Mock<AuditClientLogger['error']>;
} {
  return { warn: vi.fn<AuditClientLogger['warn']>(), error: vi.fn<AuditClientLogger['error']>() };
}

async function client(port: number, extra: Partial<AuditClientOptions> = {}): Promise<AuditClient> {
  const spoolDir = await mkdtemp(join(tmpdir(), 'aibox-audit-artifacts-'));
  cleanups.push(() => rm(spoolDir, { recursive: true, force: true }));
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

function upload(body: Uint8Array | string, extra: Partial<ArtifactUpload> = {}): ArtifactUpload {
  return {
    turnId: newTurnId(),
    tenantId: 'acme',
    userId: 'u-1',
    eventId: newTurnId(),
    kind: 'response',
    contentType: 'application/json',
    body,
    ...extra,
  };
}

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Everything the client logged, as one string, to look for what must never be there. */
function logged(logger: ReturnType<typeof recordingLogger>): string {
  return JSON.stringify([...logger.warn.mock.calls, ...logger.error.mock.calls]);
}

describe('AuditClient.putArtifact against a real TurnEventService', () => {
  it('streams a multi-chunk body byte-identical, under a principal for the artifact’s tenant and user', async () => {
    const { server, port } = await startServer();
    const c = await client(port);
    const body = randomBytes(300 * 1024);
    const artifact = upload(body, { tenantId: 'beta', userId: 'u-9' });

    const stored = await c.putArtifact(artifact);

    expect(stored).toEqual({ sha256: sha256(body), size: body.length });
    expect(server.artifactCalls).toHaveLength(1);
    const [call] = server.artifactCalls;
    expect(call?.header).toEqual({
      tenantId: 'beta',
      turnId: artifact.turnId,
      eventId: artifact.eventId,
      kind: 'response',
      contentType: 'application/json',
    });
    expect(call?.principal).toMatchObject({
      tid: 'beta',
      uid: 'u-9',
      iss: 'aibox-internal',
      sub: 'gateway',
      roles: ['service'],
    });
    expect(call?.chunks).toBe(Math.ceil(body.length / ARTIFACT_CHUNK_BYTES));
    expect(server.artifacts.get(stored.sha256)?.equals(body)).toBe(true);
  });

  it('artifactRef computes locally what audit computes from the upload', async () => {
    const { server, port } = await startServer();
    const c = await client(port);
    const bytes = randomBytes(70 * 1024);
    // A byte view into a larger buffer: only the viewed bytes are the body.
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset + 10, 65 * 1024);
    const text = '{"answer":"Grüße, 世界 🌍"}';

    for (const [body, contentType] of [
      [view, 'application/octet-stream'],
      [text, 'application/json; charset=utf-8'],
      ['', 'text/plain'],
    ] as const) {
      const ref = artifactRef('prompt', body, contentType);
      const stored = await c.putArtifact(upload(body, { kind: 'prompt', contentType }));
      const call = server.artifactCalls.at(-1);

      expect(ref).toEqual({ kind: 'prompt', sha256: call?.sha256, size: call?.size, contentType });
      expect(stored).toEqual({ sha256: ref.sha256, size: ref.size });
    }
    expect(artifactRef('prompt', text, 'text/plain').size).toBe(Buffer.byteLength(text, 'utf8'));
    expect(artifactRef('prompt', '', '').contentType).toBe('application/octet-stream');
    expect(server.artifacts.get(sha256(''))?.length).toBe(0);
  });

  it('attachArtifact gives the event’s reference at once and uploads the same bytes', async () => {
    const { server, port } = await startServer();
    const c = await client(port);
    const body = 'captured ✓ body';
    const { ref, stored } = c.attachArtifact(upload(body, { kind: 'request', contentType: '' }));
    expect(ref).toEqual(artifactRef('request', body, ''));
    expect(ref).toMatchObject({ sha256: sha256(body), contentType: 'application/octet-stream' });
    await expect(stored).resolves.toEqual({ sha256: ref.sha256, size: ref.size });
    expect(server.artifacts.get(ref.sha256)?.toString('utf8')).toBe(body);
    expect(() => c.attachArtifact(upload(body, { kind: 'Bad Kind' }))).toThrow(AuditClientError);
  });

  it('enqueueWithBodies queues the event with its bodies’ references, and logs a body it refuses', async () => {
    const { server, port } = await startServer();
    const logger = recordingLogger();
    const c = await client(port, { logger });
    const turnId = newTurnId();
    const eventId = c.enqueueWithBodies(
      { turnId, tenantId: 'default', userId: 'ada', type: 'tool_returned', attributes: { ok: true } },
      [
        { kind: 'output', contentType: 'text/plain', body: 'forty-two' },
        { kind: 'Not A Kind', contentType: 'text/plain', body: 'refused' },
      ],
    );
    await c.flush();
    const event = server.events.get(eventId);
    expect(event?.artifacts).toEqual([
      expect.objectContaining({ kind: 'output', sha256: sha256('forty-two'), contentType: 'text/plain' }),
    ]);
    await vi.waitFor(() => {
      expect(server.artifacts.get(sha256('forty-two'))?.toString('utf8')).toBe('forty-two');
    });
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ event_id: eventId, kind: 'Not A Kind' }),
      'a captured body was refused before upload',
    );
  });

  it('retries transient failures with a fresh call and succeeds', async () => {
    const { server, port } = await startServer();
    const c = await client(port);
    server.failNextArtifacts = [status.UNAVAILABLE, status.DEADLINE_EXCEEDED];
    const body = randomBytes(200 * 1024);

    const stored = await c.putArtifact(upload(body));

    expect(stored.sha256).toBe(sha256(body));
    expect(server.artifactAttempts).toBe(3);
    expect(server.artifacts.get(stored.sha256)?.equals(body)).toBe(true);
  });

  it('rejects audit_unavailable once maxRetries transient failures are spent, logging no body', async () => {
    const { server, port } = await startServer();
    const logger = recordingLogger();
    const c = await client(port, { logger });
    server.failNextArtifacts = [status.UNAVAILABLE, status.UNAVAILABLE, status.UNAVAILABLE];
    const artifact = upload('secret prompt text');

    await expect(c.putArtifact(artifact)).rejects.toMatchObject({ code: 'audit_unavailable' });

    expect(server.artifactAttempts).toBe(3);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.objectContaining({
        event_id: artifact.eventId,
        kind: 'response',
        size: 18,
        grpc_code: status.UNAVAILABLE,
        attempts: 3,
      }),
      expect.any(String),
    );
    expect(logged(logger)).not.toContain('secret prompt');
  });

  it('does not retry a permanent failure', async () => {
    const { server, port } = await startServer();
    const logger = recordingLogger();
    const c = await client(port, { logger });
    server.failNextArtifacts = [status.INVALID_ARGUMENT];
    const artifact = upload('secret model output');

    const failure = await c.putArtifact(artifact).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(AuditClientError);
    expect(failure).toMatchObject({ code: 'audit_unavailable' });
    expect(String(failure)).toContain('INVALID_ARGUMENT');
    expect(server.artifactAttempts).toBe(1);
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({
        event_id: artifact.eventId,
        grpc_code: status.INVALID_ARGUMENT,
        attempts: 1,
      }),
      expect.any(String),
    );
    expect(logged(logger)).not.toContain('secret model');
  });

  it('rejects artifact_mismatch, without retrying, when audit answers another digest', async () => {
    const { server, port } = await startServer();
    const logger = recordingLogger();
    const c = await client(port, { logger });
    server.answerSha256 = () => '0'.repeat(64);

    await expect(c.putArtifact(upload('body'))).rejects.toMatchObject({ code: 'artifact_mismatch' });

    expect(server.artifactAttempts).toBe(1);
    expect(logger.error).toHaveBeenCalled();
  });

  it('refuses an invalid upload locally with artifact_invalid, before any call', async () => {
    const { server, port } = await startServer();
    const c = await client(port);

    for (const bad of [
      upload('x', { kind: 'Response' }),
      upload('x', { kind: '' }),
      upload('x', { kind: `k${'x'.repeat(32)}` }),
      upload('x', { eventId: '' }),
      upload('x', { turnId: 'turn-1' }),
      upload('x', { tenantId: '' }),
      upload('x', { userId: '' }),
      upload('x', { contentType: 'json' }),
      upload(null as unknown as string),
      null as unknown as ArtifactUpload,
    ]) {
      await expect(c.putArtifact(bad)).rejects.toMatchObject({ code: 'artifact_invalid' });
    }
    expect(() => artifactRef('Prompt', 'x', 'text/plain')).toThrow(
      expect.objectContaining({ code: 'artifact_invalid' }),
    );
    expect(server.artifactAttempts).toBe(0);
  });

  it('close() waits for an upload in flight; putArtifact after close rejects client_closed', async () => {
    const { server, port } = await startServer();
    const c = await client(port, { backoff: { baseMs: 400, maxMs: 400 } });
    // The first attempt fails, so close() finds the upload waiting 200–400 ms before its retry.
    server.failNextArtifacts = [status.UNAVAILABLE];
    const order: string[] = [];

    const uploading = c.putArtifact(upload(randomBytes(100 * 1024))).then((stored) => {
      order.push('uploaded');
      return stored;
    });
    await vi.waitFor(
      () => {
        expect(server.artifactAttempts).toBeGreaterThanOrEqual(1);
      },
      { interval: 5 },
    );
    await c.close().then(() => order.push('closed'));

    expect(order).toEqual(['uploaded', 'closed']);
    await expect(uploading).resolves.toMatchObject({ size: 100 * 1024 });
    await expect(c.putArtifact(upload('late'))).rejects.toMatchObject({ code: 'client_closed' });
    expect(server.artifactAttempts).toBe(2);
  });
});
