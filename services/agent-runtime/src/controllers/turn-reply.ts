import { PassThrough } from 'node:stream';

import type { FastifyReply } from 'fastify';

import { HEADER } from '@aibox/identity';
import { PlatformError } from '@aibox/platform';

import type { StreamEvent, TurnStream } from '../services/turn-stream.js';

/** A comment line every so often keeps proxies from closing a stream that waits (for an approval, say). */
export const HEARTBEAT_MS = 15_000;

function frame(event: StreamEvent): string {
  return `id: ${event.id}\nevent: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/** Marks the response so that the gateway leaves sealing the turn to this service. */
export function sealedHere(reply: FastifyReply): void {
  void reply.header(HEADER.turnSeal, 'downstream');
}

/**
 * Sends a turn's events as SSE from after `afterId`, live until the turn's stream ends. A client that leaves
 * only stops its own copy: the turn runs on.
 */
export function sendTurnStream(reply: FastifyReply, stream: TurnStream, afterId: number): void {
  const body = new PassThrough();
  body.on('error', () => undefined);
  const heartbeat = setInterval(() => {
    if (!body.destroyed) body.write(': ping\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let unsubscribe: () => void = () => undefined;
  const close = (): void => {
    clearInterval(heartbeat);
    unsubscribe();
  };
  reply.raw.once('close', close);
  void reply
    .code(200)
    .headers({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      [HEADER.turnId]: stream.turnId,
    })
    .send(body);
  // Opens the response at once, so the client sees the stream before the first model token.
  body.write(': stream\n\n');
  unsubscribe = subscribeTo(stream, afterId, body, close);
}

function subscribeTo(stream: TurnStream, afterId: number, body: PassThrough, close: () => void): () => void {
  return stream.subscribe(
    afterId,
    (event) => {
      if (!body.destroyed) body.write(frame(event));
    },
    () => {
      close();
      body.end();
    },
  );
}

/** The id a reconnecting client names: `Last-Event-ID`, or `?after=`; 0 (from the start) otherwise. */
export function resumeFrom(lastEventId: string | undefined, after: string | undefined): number {
  const raw = lastEventId ?? after;
  if (raw === undefined || raw.trim() === '') return 0;
  if (!/^\d{1,9}$/.test(raw.trim())) {
    throw new PlatformError('invalid_request', { detail: 'Last-Event-ID must be an event id of the stream' });
  }
  return Number(raw.trim());
}
