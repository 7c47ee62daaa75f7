import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

import type { Pack } from 'tar-stream';

const CHUNK_BYTES = 65_536;
const PERMISSION_BITS = 0o777;

/** Waits until a tar entry takes more data, or is gone. */
function flowed(sink: ReturnType<Pack['entry']>): Promise<void> {
  return new Promise((resolve) => {
    // A destroyed entry refuses writes too, and has closed already: there is no event left to wait for.
    if (sink.destroyed) {
      resolve();
      return;
    }
    const done = (): void => {
      sink.off('drain', done);
      sink.off('close', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('close', done);
  });
}

/**
 * Writes an open regular file into `pack` as `name`, read by position, never whole in memory. The size in the
 * header is `stats.size`, read at the open: a file that grows meanwhile is cut there; one that shrinks fails
 * the entry with `shrank(name)`.
 */
export async function packOpenFile(
  pack: Pack,
  handle: FileHandle,
  stats: Stats,
  name: string,
  shrank: (name: string) => Error,
): Promise<void> {
  let settle: (error?: Error | null) => void = () => undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = (error) => {
      if (error) reject(error);
      else resolve();
    };
  });
  // Awaited below; this only keeps a failure before then from counting as unhandled.
  done.catch(() => undefined);
  const sink = pack.entry(
    { name, type: 'file', size: stats.size, mode: stats.mode & PERMISSION_BITS, mtime: stats.mtime },
    (error) => {
      settle(error);
    },
  );
  let position = 0;
  while (position < stats.size && !sink.destroyed) {
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, stats.size - position));
    const { bytesRead } = await handle.read(chunk, 0, chunk.length, position);
    if (bytesRead === 0) {
      sink.destroy(shrank(name));
      break;
    }
    position += bytesRead;
    if (!sink.write(chunk.subarray(0, bytesRead))) await flowed(sink);
  }
  if (!sink.destroyed) sink.end(null);
  await done;
}
