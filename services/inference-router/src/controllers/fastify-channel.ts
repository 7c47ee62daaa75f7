import { PassThrough } from 'node:stream';

import type { FastifyReply } from 'fastify';

import type { ClientChannel } from '../services/client-channel.js';

/**
 * A {@link ClientChannel} over a Fastify reply. A stream is a PassThrough handed to `reply.send`, so
 * Fastify's hooks (logs, metrics, correlation id) see the response like any other; each event is written
 * the moment it is ready, and `write` waits for `drain` when the caller reads slowly.
 */
export function fastifyChannel(reply: FastifyReply): ClientChannel {
  const gone = new AbortController();
  const raw = reply.raw;
  raw.once('close', () => {
    if (!raw.writableFinished) gone.abort();
  });
  let stream: PassThrough | undefined;
  return {
    signal: gone.signal,
    json(headers, body) {
      void reply
        .code(200)
        .headers({ ...headers, 'content-type': 'application/json; charset=utf-8' })
        .send(body);
    },
    openStream(headers) {
      stream = new PassThrough();
      // Writes after the caller left fail quietly: `signal` already says so.
      stream.on('error', () => undefined);
      void reply
        .code(200)
        .headers({
          ...headers,
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          'x-accel-buffering': 'no',
        })
        .send(stream);
    },
    write(text) {
      const target = stream;
      if (target === undefined || target.destroyed || gone.signal.aborted) return Promise.resolve();
      if (target.write(text)) return Promise.resolve();
      return new Promise((resolve) => {
        const done = (): void => {
          target.off('drain', done);
          target.off('close', done);
          gone.signal.removeEventListener('abort', done);
          resolve();
        };
        target.once('drain', done);
        target.once('close', done);
        gone.signal.addEventListener('abort', done, { once: true });
      });
    },
    end() {
      if (stream !== undefined && !stream.destroyed) stream.end();
    },
  };
}
