import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * A body of `totalBytes` random bytes, made one chunk at a time as the reader pulls, so no one holds it
 * whole. `digest()` is its SHA-256 once the stream has been read to the end.
 */
export function generatedBody(
  totalBytes: number,
  chunkBytes = 1024 * 1024,
): { body: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let produced = 0;
  let digest: string | undefined;
  const body = new Readable({
    read() {
      if (produced >= totalBytes) {
        digest = hash.digest('hex');
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(chunkBytes, totalBytes - produced));
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return {
    body,
    digest: () => {
      if (digest === undefined) throw new Error('generated body not fully read yet');
      return digest;
    },
  };
}

/** A stream that yields some bytes and then fails, like a client that disconnects mid-upload. */
export function failingBody(bytesBeforeFailure: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(randomBytes(bytesBeforeFailure));
        return;
      }
      this.destroy(new Error('client went away'));
    },
  });
}

/** Reads a stream to the end, hashing it, without keeping it. */
export async function digestOf(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    size += bytes.length;
  }
  return { sha256: hash.digest('hex'), size };
}

export async function textOf(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
