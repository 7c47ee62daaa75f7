import { PassThrough } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import { ResponseBody } from './provider-client.js';

const KIB = 1024;

/** Reads `body` to its end: the chunks as strings, and the error it ended with, if any. */
async function drain(body: ResponseBody): Promise<{ chunks: string[]; error: unknown }> {
  const chunks: string[] = [];
  try {
    for await (const chunk of body) chunks.push(chunk.toString('utf8'));
  } catch (error: unknown) {
    return { chunks, error };
  }
  return { chunks, error: undefined };
}

/** The next chunk of `body`, which must not be done. */
async function nextChunk(body: ResponseBody): Promise<Buffer> {
  const result = await body.next();
  if (result.done === true) throw new Error('expected a chunk, the body ended');
  return result.value;
}

describe('ResponseBody', () => {
  it('gives the chunks in order, then done', async () => {
    const source = new PassThrough();
    const body = new ResponseBody(source);
    source.write('data: 1\n\n');
    source.write('data: 2\n\n');
    source.end('data: [DONE]\n\n');
    expect(await drain(body)).toEqual({
      chunks: ['data: 1\n\n', 'data: 2\n\n', 'data: [DONE]\n\n'],
      error: undefined,
    });
    expect(await body.next()).toEqual({ done: true, value: undefined });
  });

  it('gives Buffers, byte for byte', async () => {
    const source = new PassThrough();
    const body = new ResponseBody(source);
    const bytes = Buffer.from([0xf0, 0x9f, 0x98, 0x80, 0x00, 0xff]);
    source.end(bytes);
    const first = await nextChunk(body);
    expect(Buffer.isBuffer(first)).toBe(true);
    expect(first).toEqual(bytes);
    expect(await body.next()).toEqual({ done: true, value: undefined });
  });

  it('waits for chunks that have not arrived yet', async () => {
    const source = new PassThrough();
    const body = new ResponseBody(source);
    const pending = nextChunk(body);
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    await tick();
    expect(settled).toBe(false);
    source.write('late');
    expect((await pending).toString()).toBe('late');
    const end = body.next();
    source.end();
    expect(await end).toEqual({ done: true, value: undefined });
  });

  it('delivers the chunks that arrived before the source failed, then the error', async () => {
    const source = new PassThrough();
    const body = new ResponseBody(source);
    const failure = new Error('socket hang up');
    source.write('data: last-1\n\n');
    source.write('data: last-2\n\n');
    source.destroy(failure);
    await tick();
    expect(source.destroyed).toBe(true);
    const result = await drain(body);
    expect(result.chunks).toEqual(['data: last-1\n\n', 'data: last-2\n\n']);
    expect(result.error).toBe(failure);
    // The error stays.
    await expect(body.next()).rejects.toBe(failure);
  });

  it('wakes a waiting reader with the error', async () => {
    const source = new PassThrough();
    const body = new ResponseBody(source);
    const pending = body.next();
    const failure = new Error('ECONNRESET');
    source.destroy(failure);
    await expect(pending).rejects.toBe(failure);
  });

  it('ends with an error when the source closes without end or error', async () => {
    const source = new PassThrough();
    const body = new ResponseBody(source);
    source.write('partial');
    source.destroy();
    const result = await drain(body);
    expect(result.chunks).toEqual(['partial']);
    expect(result.error).toBeInstanceOf(Error);
    expect((result.error as Error).message).toBe('the provider closed the response before it ended');
  });

  it('is not an error when the source closes after its end', async () => {
    const source = new PassThrough();
    const body = new ResponseBody(source);
    source.end('all');
    await tick();
    source.destroy();
    await tick();
    expect(await drain(body)).toEqual({ chunks: ['all'], error: undefined });
  });

  it('destroy() drops unread chunks, ends the iteration with an error and destroys the source', async () => {
    const source = new PassThrough();
    const body = new ResponseBody(source);
    source.write('unread-1');
    source.write('unread-2');
    await tick();
    body.destroy();
    expect(source.destroyed).toBe(true);
    const result = await drain(body);
    expect(result.chunks).toEqual([]);
    expect((result.error as Error).message).toBe('the response was abandoned');
  });

  it('destroy() wakes a waiting reader', async () => {
    const source = new PassThrough();
    const body = new ResponseBody(source);
    const pending = body.next();
    body.destroy();
    await expect(pending).rejects.toThrow('the response was abandoned');
    expect(source.destroyed).toBe(true);
  });

  it('pauses the source above 1 MiB buffered and resumes it at half', async () => {
    const source = new PassThrough();
    const body = new ResponseBody(source);
    source.write(Buffer.alloc(512 * KIB, 1));
    source.write(Buffer.alloc(512 * KIB, 2));
    await tick();
    // Exactly 1 MiB buffered: not above the mark.
    expect(source.isPaused()).toBe(false);
    source.write(Buffer.alloc(1, 3));
    await tick();
    expect(source.isPaused()).toBe(true);
    // Nothing more is taken in while paused.
    source.write(Buffer.alloc(10, 4));
    await tick();

    const first = await nextChunk(body);
    expect(first.length).toBe(512 * KIB);
    expect(first[0]).toBe(1);
    // 512 KiB + 1 byte left: still above half.
    expect(source.isPaused()).toBe(true);

    const second = await nextChunk(body);
    expect(second.length).toBe(512 * KIB);
    expect(second[0]).toBe(2);
    // 1 byte left: resumed.
    expect(source.isPaused()).toBe(false);

    source.end();
    const rest = [];
    for await (const chunk of body) rest.push(...chunk);
    expect(rest).toEqual([3, ...Array<number>(10).fill(4)]);
  });

  it('holds back the writer while paused', async () => {
    const source = new PassThrough({ highWaterMark: 16 * KIB });
    const body = new ResponseBody(source);
    source.write(Buffer.alloc(1024 * KIB + 1));
    await tick();
    expect(source.isPaused()).toBe(true);
    // The source's own buffers fill up, so writes report backpressure to the producer.
    let accepted = true;
    for (let i = 0; i < 8 && accepted; i += 1) accepted = source.write(Buffer.alloc(16 * KIB));
    expect(accepted).toBe(false);
    expect(source.writableNeedDrain).toBe(true);
    await body.next();
    expect(source.isPaused()).toBe(false);
    await tick();
    expect(source.writableNeedDrain).toBe(false);
    body.destroy();
  });
});
