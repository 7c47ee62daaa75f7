import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { describe, expect, it } from 'vitest';

import { ByteLimit } from './byte-limit.js';

async function collect(chunks: readonly string[], limit: number): Promise<string> {
  let out = '';
  await pipeline(
    Readable.from(chunks.map((chunk) => Buffer.from(chunk))),
    new ByteLimit(limit, (max) => new Error(`over ${max}`)),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) out += chunk.toString();
    },
  );
  return out;
}

describe('ByteLimit', () => {
  it('passes a body of exactly the limit and fails one byte more with the given error', async () => {
    expect(await collect(['abc', 'de'], 5)).toBe('abcde');
    await expect(collect(['abc', 'def'], 5)).rejects.toThrow('over 5');
  });
});
