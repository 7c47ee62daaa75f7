import { PassThrough } from 'node:stream';

import type { FastifyReply } from 'fastify';

/** Keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

export interface SseChannel {
  send(event: string, data: unknown, id?: number): void;
  end(): void;
  onClose(listener: () => void): void;
}

/** Opens a server-sent event stream on `reply`: unbuffered, with a heartbeat comment while it is quiet. */
export function openSse(reply: FastifyReply): SseChannel {
  const body = new PassThrough();
  body.on('error', () => undefined);
  void reply
    .code(200)
    .headers({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    })
    .send(body);
  const heartbeat = setInterval(() => {
    if (!body.destroyed) body.write(': ping\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();
  const listeners: (() => void)[] = [];
  reply.raw.once('close', () => {
    clearInterval(heartbeat);
    for (const listener of listeners) listener();
  });
  return {
    send(event, data, id) {
      if (body.destroyed) return;
      body.write(
        `${id === undefined ? '' : `id: ${String(id)}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`,
      );
    },
    end() {
      clearInterval(heartbeat);
      body.end();
    },
    onClose(listener) {
      listeners.push(listener);
    },
  };
}
