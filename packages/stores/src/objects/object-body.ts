import { Readable } from 'node:stream';

import { StoreError } from '../store.js';
import { describeError } from '../cache/namespace.js';

export type ObjectBody = Readable | Buffer | Uint8Array;

/** The bytes of a body, chunk by chunk as they arrive; the body is never gathered in memory. */
export interface BodyChunks {
  /** Set when the whole body was handed over in memory. */
  readonly whole: Buffer | undefined;
  chunks(): AsyncIterable<Buffer>;
}

function asBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new StoreError('body_invalid', 'object body stream yielded something other than bytes or text');
}

/**
 * Accepts a Readable, a Buffer or a Uint8Array (`body_invalid` otherwise). A failing source stream
 * surfaces as `body_unreadable`, so callers can tell their own stream's failure from the store's.
 */
export function bodyChunks(body: unknown): BodyChunks {
  if (body instanceof Uint8Array) {
    const whole = asBuffer(body);
    return {
      whole,
      // eslint-disable-next-line @typescript-eslint/require-await -- an async generator is the simplest AsyncIterable
      async *chunks() {
        yield whole;
      },
    };
  }
  if (body instanceof Readable) {
    return {
      whole: undefined,
      async *chunks() {
        const source = body[Symbol.asyncIterator]();
        let finished = false;
        try {
          for (;;) {
            let next: IteratorResult<unknown>;
            try {
              next = await source.next();
            } catch (error) {
              finished = true;
              throw new StoreError(
                'body_unreadable',
                `reading the object body failed: ${describeError(error)}`,
                {
                  cause: error,
                },
              );
            }
            if (next.done === true) {
              finished = true;
              return;
            }
            yield asBuffer(next.value);
          }
        } finally {
          // The store gave up early (its own failure): release the caller's stream instead of leaving it
          // paused with a producer waiting on it.
          if (!finished) await source.return?.();
        }
      },
    };
  }
  throw new StoreError('body_invalid', 'object body must be a Readable stream, a Buffer or a Uint8Array');
}
